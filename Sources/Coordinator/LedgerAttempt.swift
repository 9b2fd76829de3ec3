import CrawlKit

extension BatchLedger {
    /// One task attempt of a batch: what state.json and report.json show per task. Its facts come
    /// in the groups that exist together, each nil until it happened: the launch (a task and
    /// when), then the end (records, how and why it stopped).
    public struct Attempt: Sendable, Equatable {
        public var attempt: Int
        public var token: String
        public var urls: Int
        public var phase: AttemptPhase
        public var launchTries = 0
        /// Why its launch waited (the backend's `retryLater`, a rate limit): shown while it waits;
        /// the end's reason replaces it.
        public var waitReason: String?
        public var launch: Launch?
        /// The one stop crawlrun asked for: of its task, or of its launch waiting to be made again.
        public var stopRequested: StopRequest?
        public var end: End?

        public init(attempt: Int, token: String, urls: Int, phase: AttemptPhase) {
            self.attempt = attempt
            self.token = token
            self.urls = urls
            self.phase = phase
        }

        /// The backend accepted the launch: its task.
        public struct Launch: Sendable, Equatable {
            public var task: String
            public var at: Double
            /// When the backend first said it runs (nil: it never did, or not yet).
            public var runningAt: Double?
        }

        /// How the attempt ended (its results merged, or no task at all).
        public struct End: Sendable, Equatable {
            public var at: Double
            public var records: Int
            /// Of `records`, those with `ok: false` (crawl failures): report.html colours by them.
            public var failed: Int
            /// URLs without a record.
            public var missing: Int
            /// How ECS (or the local and docker backends, in its terms) said the task stopped.
            public var stopCode: StopCode
            public var reason: String
            public var hint: String?
            /// Each container's exit code (nil: it has none); empty when no container is known.
            public var exitCodes: [String: Int32?]
            public var timing: Timing?
            public var capacityProvider: String?
            /// Why it counts as an infrastructure failure; nil when it did its job.
            public var infrastructureProblem: String?
        }

        public struct Timing: Sendable, Codable, Equatable {
            public var pullStartedAt: Double?
            public var startedAt: Double?
            public var stoppedAt: Double?
        }

        public var task: String? { launch?.task }

        /// Seconds from the launch to the end (what the task cost us in wall time); an attempt
        /// that never got a task took none.
        public var seconds: Double? { end.map { max(0, $0.at - (launch?.at ?? $0.at)) } }
    }

    /// Why crawlrun asked for a stop. In state.json it is its words, as it always was: they are
    /// read back by their shape (a deadline's or a failed run's words; any others are an
    /// interrupt's reason).
    public enum StopRequest: Sendable, Equatable, CustomStringConvertible {
        /// The run is ending (Ctrl-C, SIGTERM, `crawlrun stop`, a failure): every task stops.
        case byRun(RunStop)
        /// The task passed one of its own deadlines.
        case deadline(Deadline)

        public enum Deadline: Sendable, Equatable {
            /// Still not running `task.startTimeout` seconds after its launch.
            case start(seconds: Double)
            /// Still running `task.maxRunSeconds` after its launch.
            case maxRun(seconds: Double)
        }

        public var description: String {
            switch self {
            case .byRun(let stop): stop.description
            case .deadline(.start(let s)): "still not running \(Int(s)) s after its launch"
            case .deadline(.maxRun(let s)): "ran longer than task.maxRunSeconds (\(BatchLedger.show(s)) s)"
            }
        }

        /// Read back from its words (see the type's comment).
        public init(words: String) {
            func number(between head: String, and tail: String) -> Double? {
                guard words.hasPrefix(head), words.hasSuffix(tail), words.count > head.count + tail.count else {
                    return nil
                }
                return Double(words.dropFirst(head.count).dropLast(tail.count))
            }
            if let s = number(between: "still not running ", and: " s after its launch") {
                self = .deadline(.start(seconds: s))
            } else if let s = number(between: "ran longer than task.maxRunSeconds (", and: " s)") {
                self = .deadline(.maxRun(seconds: s))
            } else {
                self = .byRun(RunStop(words: words))
            }
        }
    }

    /// Why the run as a whole stops its tasks.
    public enum RunStop: Sendable, Equatable, CustomStringConvertible {
        /// Ctrl-C, SIGTERM, `crawlrun stop`, a closed output: its reason.
        case interrupted(String)
        /// The run failed: its failure's message.
        case failed(message: String)

        static let failedPrefix = "the run failed: "

        public var description: String {
            switch self {
            case .interrupted(let reason): reason
            case .failed(let message): Self.failedPrefix + message
            }
        }

        init(words: String) {
            self =
                words.hasPrefix(Self.failedPrefix)
                ? .failed(message: String(words.dropFirst(Self.failedPrefix.count))) : .interrupted(words)
        }
    }

    /// Where the run is: going on, or ending (interrupted, failed), as state.json's
    /// `interruptReason` and `failure` say.
    public enum RunPhase: Sendable, Equatable {
        case running
        case interrupted(reason: String)
        /// The first failure is kept; an interrupt may have come before or after it (both are
        /// reported).
        case failed(RunFailure, interrupted: String?)

        public var interruptReason: String? {
            switch self {
            case .running: nil
            case .interrupted(let reason): reason
            case .failed(_, let reason): reason
            }
        }

        public var failure: RunFailure? { if case .failed(let f, _) = self { f } else { nil } }

        /// What stops a task launched now (an interrupt's reason first, as it came from the user).
        public var stop: RunStop? {
            switch self {
            case .running: nil
            case .interrupted(let reason): .interrupted(reason)
            case .failed(let f, let reason): reason.map { .interrupted($0) } ?? .failed(message: f.message)
            }
        }
    }
}

// state.json spells an attempt flat, as it always did: the groups' fields beside each other.
extension BatchLedger.Attempt: Codable {
    private enum CodingKeys: String, CodingKey {
        case attempt, token, urls, phase, task, launchTries, launchedAt, runningAt, endedAt, stopRequested
        case records, failed, missing, stopCode, reason, hint, exitCodes, timing, capacityProvider
        case infrastructureProblem
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        attempt = try c.decode(Int.self, forKey: .attempt)
        token = try c.decode(String.self, forKey: .token)
        urls = try c.decode(Int.self, forKey: .urls)
        phase = try c.decode(BatchLedger.AttemptPhase.self, forKey: .phase)
        launchTries = try c.decodeIfPresent(Int.self, forKey: .launchTries) ?? 0
        let launchedAt = try c.decodeIfPresent(Double.self, forKey: .launchedAt)
        let endedAt = try c.decodeIfPresent(Double.self, forKey: .endedAt)
        if let task = try c.decodeIfPresent(String.self, forKey: .task) {
            launch = Launch(
                task: task, at: launchedAt ?? endedAt ?? 0,
                runningAt: try c.decodeIfPresent(Double.self, forKey: .runningAt))
        }
        stopRequested = try c.decodeIfPresent(String.self, forKey: .stopRequested).map {
            BatchLedger.StopRequest(words: $0)
        }
        let reason = try c.decodeIfPresent(String.self, forKey: .reason)
        guard let endedAt else {
            waitReason = reason
            return
        }
        end = End(
            at: endedAt, records: try c.decodeIfPresent(Int.self, forKey: .records) ?? 0,
            failed: try c.decodeIfPresent(Int.self, forKey: .failed) ?? 0,
            missing: try c.decodeIfPresent(Int.self, forKey: .missing) ?? 0,
            stopCode: try c.decodeIfPresent(StopCode.self, forKey: .stopCode) ?? .unknown, reason: reason ?? "",
            hint: try c.decodeIfPresent(String.self, forKey: .hint),
            exitCodes: try c.decodeIfPresent([String: Int32?].self, forKey: .exitCodes) ?? [:],
            timing: try c.decodeIfPresent(Timing.self, forKey: .timing),
            capacityProvider: try c.decodeIfPresent(String.self, forKey: .capacityProvider),
            infrastructureProblem: try c.decodeIfPresent(String.self, forKey: .infrastructureProblem))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(token, forKey: .token)
        try c.encode(urls, forKey: .urls)
        try c.encode(phase, forKey: .phase)
        try c.encodeIfPresent(launch?.task, forKey: .task)
        try c.encode(launchTries, forKey: .launchTries)
        // An attempt that never got a task was launched, for the report, when it ended.
        try c.encodeIfPresent(launch?.at ?? end?.at, forKey: .launchedAt)
        try c.encodeIfPresent(launch?.runningAt, forKey: .runningAt)
        try c.encodeIfPresent(end?.at, forKey: .endedAt)
        try c.encodeIfPresent(stopRequested?.description, forKey: .stopRequested)
        guard let end else {
            try c.encodeIfPresent(waitReason, forKey: .reason)
            return
        }
        try c.encode(end.records, forKey: .records)
        // Counted from a task's results: an attempt without a task has none.
        if launch != nil { try c.encode(end.failed, forKey: .failed) }
        try c.encode(end.missing, forKey: .missing)
        try c.encode(end.stopCode, forKey: .stopCode)
        try c.encode(end.reason, forKey: .reason)
        try c.encodeIfPresent(end.hint, forKey: .hint)
        if !end.exitCodes.isEmpty { try c.encode(end.exitCodes, forKey: .exitCodes) }
        try c.encodeIfPresent(end.timing, forKey: .timing)
        try c.encodeIfPresent(end.capacityProvider, forKey: .capacityProvider)
        try c.encodeIfPresent(end.infrastructureProblem, forKey: .infrastructureProblem)
    }
}
