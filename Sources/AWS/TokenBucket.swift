#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A client-side token bucket: a burst of calls waits here instead of being throttled by the
/// API's own bucket (ECS-NOTES.md, "API rate limits").
public actor TokenBucket {
    let capacity: Double
    let refillPerSecond: Double
    private var tokens: Double
    private var last = ContinuousClock.now
    /// Tokens handed out, and callers asleep waiting for one: what the tests observe.
    private(set) var granted = 0
    private(set) var waiting = 0

    public init(capacity: Double, refillPerSecond: Double) {
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
        tokens = capacity
    }

    /// Waits for a token and takes it. A cancelled caller stops waiting at once and takes none:
    /// its sleep throws, and it never reaches the point where a token is taken.
    public func take() async throws(CancellationError) {
        while true {
            if Task.isCancelled { throw CancellationError() }
            refill()
            if tokens >= 1 {
                tokens -= 1
                granted += 1
                return
            }
            let wait = (1 - tokens) / refillPerSecond
            waiting += 1
            do {
                try await Task.sleep(for: .milliseconds(Int64(wait * 1000) + 1))
                waiting -= 1
            } catch {
                waiting -= 1
                throw CancellationError()
            }
        }
    }

    /// `take()` for an AWS call: a cancellation becomes the call's `AWSError.cancelled`.
    func take(for operation: String) async throws(AWSError) {
        do {
            try await take()
        } catch {
            throw AWSError.cancelled(operation)
        }
    }

    private func refill() {
        let now = ContinuousClock.now
        let elapsed = now - last
        last = now
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(capacity, tokens + seconds * refillPerSecond)
    }
}
