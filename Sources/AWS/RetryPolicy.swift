import HTTP

/// Retries with jittered exponential backoff ("full jitter"), for retryable errors only, within a
/// per-call deadline. https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/
///
/// A cancelled caller is never retried: the loop ends at once with `AWSError.cancelled`, whether
/// the cancellation arrived during an attempt or during the pause between two.
public struct RetryPolicy: Sendable {
    public var maxAttempts = 5
    public var baseDelay: Duration = .milliseconds(100)
    public var maxDelay: Duration = .seconds(10)
    public var deadline: Duration = .seconds(60)
    public init() {}

    func delay(attempt: Int) -> Duration {
        let cap = min(maxDelay, baseDelay * (1 << min(attempt, 16)))
        let ms = Double(cap.components.seconds) * 1000 + Double(cap.components.attoseconds) / 1e15
        return .milliseconds(Int64(Double.random(in: 0...ms)))
    }

    /// Runs `body` until it succeeds, fails for good, the deadline would pass, or the task is
    /// cancelled. `operation` names the call in the cancellation error.
    func run<T: Sendable>(
        _ operation: String, _ body: () async throws(AWSError) -> T
    ) async throws(AWSError) -> T {
        let deadlineAt = ContinuousClock.now + deadline
        var attempt = 0
        while true {
            if Task.isCancelled { throw AWSError.cancelled(operation) }
            do {
                return try await body()
            } catch {
                if error.isCancellation { throw error }
                attempt += 1
                let pause = delay(attempt: attempt)
                guard error.isRetryable, attempt < maxAttempts, ContinuousClock.now + pause < deadlineAt else {
                    throw error
                }
                // A transport error seen while cancelled is the cancellation itself (curl aborts).
                if Task.isCancelled { throw AWSError.cancelled(operation) }
                do {
                    try await Task.sleep(for: pause)
                } catch {
                    throw AWSError.cancelled(operation)
                }
            }
        }
    }
}

extension AWSError {
    /// The error for a request that got no HTTP answer: a cancellation when the task was cancelled
    /// (libcurl aborted, or the transport threw `CancellationError`), else a retryable transport error.
    static func noAnswer(_ what: String, _ error: any Error) -> AWSError {
        if error is CancellationError || (error as? HTTPError)?.code == .cancelled || Task.isCancelled {
            return .cancelled(what)
        }
        return AWSError(.transport, "\(what) did not get an answer", cause: "\(error)")
    }
}
