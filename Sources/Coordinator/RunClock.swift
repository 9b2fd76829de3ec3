import CrawlKit

/// The scheduler's time: wall-clock seconds since 1970 (state.json keeps them across a restart)
/// and sleeps. Tests drive a manual clock (TestSupport's `TestClock`) to prove deadlines without
/// waiting for them.
public protocol RunClock: Sendable {
    func now() -> Double
    /// Returns after `seconds`, or throws `CancellationError` when the task is cancelled.
    func sleep(for seconds: Double) async throws
    /// Returns at `deadline` (seconds since 1970), at once when it has passed. A deadline worked
    /// out before the sleep begins stays the same deadline however late the sleep starts (a
    /// relative sleep started after the clock moved on would end past it).
    func sleep(until deadline: Double) async throws
}

extension RunClock {
    public func sleep(until deadline: Double) async throws { try await sleep(for: deadline - now()) }
}

public struct SystemClock: RunClock {
    public init() {}
    public func now() -> Double { Timestamp.epochSeconds() }
    public func sleep(for seconds: Double) async throws {
        try await Task.sleep(for: .milliseconds(Int64(max(0, seconds) * 1000)))
    }
}
