import CrawlKit
import Synchronization

/// The crawler's exit code from whichever comes first: the batch's work ending, or the stop
/// grace spent with commands still in flight (`Crawler.abandonAfter`). Later answers are ignored.
final class FirstExitCode: Sendable {
    private enum State {
        case waiting([CheckedContinuation<CrawlerExitCode, Never>])
        case resolved(CrawlerExitCode)
    }
    private let state = Mutex<State>(.waiting([]))

    /// True when `code` is the answer (nothing came before it).
    @discardableResult
    func resolve(_ code: CrawlerExitCode) -> Bool {
        let waiters: [CheckedContinuation<CrawlerExitCode, Never>]? = state.withLock { state in
            guard case .waiting(let waiters) = state else { return nil }
            state = .resolved(code)
            return waiters
        }
        guard let waiters else { return false }
        for w in waiters { w.resume(returning: code) }
        return true
    }

    func value() async -> CrawlerExitCode {
        await withCheckedContinuation { continuation in
            let code: CrawlerExitCode? = state.withLock { state in
                switch state {
                case .resolved(let code): return code
                case .waiting(let waiters):
                    state = .waiting(waiters + [continuation])
                    return nil
                }
            }
            if let code { continuation.resume(returning: code) }
        }
    }
}
