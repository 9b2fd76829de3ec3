/// How a task attempt ended, as report.html colours it. The raw value is its CSS class.
public enum AttemptOutcome: String, CaseIterable, Sendable {
    /// Every URL has a record and every record is `ok`.
    case ok
    /// Every URL has a record, some `ok: false`: the site's doing, not the infrastructure's.
    case failures
    /// The task ended without doing its job (a crawler killed or exiting non-zero, URLs left
    /// without a record, a deadline passed).
    case infrastructure
    /// Stopped by the run (Ctrl-C, SIGTERM, the run failing) or by someone else (`crawlrun stop`,
    /// the ECS console).
    case stopped
    /// No task ran: the launch was refused or the task never started.
    case failedToStart

    public var label: String {
        switch self {
        case .ok: "done, every URL ok"
        case .failures: "done, with crawl failures only"
        case .infrastructure: "infrastructure problem"
        case .stopped: "stopped by the user or interrupted"
        case .failedToStart: "failed to start"
        }
    }

    /// Every URL got a record: the task did its job.
    public var didItsJob: Bool { self == .ok || self == .failures }

    /// Whether neighbouring attempts with these outcomes may be drawn as one bar (report.html's
    /// timeline past its size cap): those that did their job, or the same outcome.
    func mergesWith(_ other: AttemptOutcome) -> Bool { self == other || (didItsJob && other.didItsJob) }

    /// The colour of its bars (CSS).
    var color: String {
        switch self {
        case .ok: "#2f9e5b"
        case .failures: "#e6a23c"
        case .infrastructure: "#d9443b"
        case .stopped: "#8c939d"
        case .failedToStart: "#7e57c2"
        }
    }

    /// An ended attempt's outcome. A task that did its job counts as done even if a stop was
    /// asked for meanwhile; a stop asked for by the run (interrupt, failure) or from outside it
    /// (a `UserInitiated` stop the run did not ask for) is the user's; a deadline stop is not.
    public init(_ a: BatchLedger.Attempt) {
        let stoppedByRun = if case .byRun = a.stopRequested { true } else { false }
        guard let end = a.end else {
            self = .ok
            return
        }
        if end.infrastructureProblem == nil && end.missing == 0 && end.stopCode != .taskFailedToStart {
            self = end.failed > 0 ? .failures : .ok
        } else if stoppedByRun || (end.stopCode == .userInitiated && a.stopRequested == nil) {
            // A relaunch waiting out its back-off when the run ended is stopped by it too.
            self = .stopped
        } else if end.stopCode == .taskFailedToStart {
            self = .failedToStart
        } else {
            self = .infrastructure
        }
    }
}
