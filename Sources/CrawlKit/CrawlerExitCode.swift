/// The crawler's exit codes (sysexits.h values, so they read the same in any shell): the contract
/// between the crawler and the coordinator, which tells infrastructure failures from crawl
/// results by them (README, "The crawler": exit codes).
public enum CrawlerExitCode: Int32, Sendable, CaseIterable {
    /// Every URL of the batch has a record (some may be `ok: false`).
    case ok = 0
    /// The batch file is missing, unreadable or invalid; the environment is incomplete.
    case badInput = 65
    /// WebDriver never became ready, or no session could be created, within the wait timeout.
    case webDriverUnavailable = 69
    /// An unexpected internal failure.
    case internalError = 70
    /// Results could not be written.
    case outputFailed = 73
    /// Stopped by SIGTERM/SIGINT before every URL had a record: the batch is incomplete.
    case interrupted = 75
    /// The sidecar is up but the browser refuses to start a session ("session not created":
    /// Chrome exited at once, bad `browserArgs` or capabilities). A configuration problem:
    /// another task would fail the same way, so the coordinator does not retry it.
    case sessionNotCreated = 78

    /// What an exit code of the crawler container means, in words; 128+n is a signal.
    public static func meaning(_ code: Int32) -> String {
        switch CrawlerExitCode(rawValue: code) {
        case .ok?: return "exited 0"
        case .badInput?: return "exited 65: bad batch input"
        case .webDriverUnavailable?: return "exited 69: the WebDriver sidecar never became ready"
        case .internalError?: return "exited 70: internal error"
        case .outputFailed?: return "exited 73: results could not be written"
        case .interrupted?: return "exited 75: stopped before finishing its batch"
        case .sessionNotCreated?: return "exited 78: the browser could not start a session"
        case nil:
            switch code {
            case 137: return "was killed (SIGKILL)"
            case 143: return "was terminated (SIGTERM)"
            case let c where c > 128: return "was killed by signal \(c - 128)"
            default: return "exited \(code)"
            }
        }
    }
}
