import HTTP

/// A failed WebDriver command. W3C errors keep their wire code (an open set: unknown codes are
/// kept as `.other`); transport failures carry the HTTP layer's error as the cause.
/// https://www.w3.org/TR/webdriver2/#errors
public struct WebDriverError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable, Hashable {
        case elementClickIntercepted, elementNotInteractable, insecureCertificate, invalidArgument
        case invalidCookieDomain, invalidElementState, invalidSelector, invalidSessionId
        case javascriptError, moveTargetOutOfBounds, noSuchAlert, noSuchCookie, noSuchElement
        case noSuchFrame, noSuchWindow, noSuchShadowRoot, scriptTimeout, sessionNotCreated
        case staleElementReference, detachedShadowRoot, timeout, unableToSetCookie
        case unableToCaptureScreen, unexpectedAlertOpen, unknownCommand, unknownError
        case unknownMethod, unsupportedOperation
        /// A code this client does not know, as the remote end sent it.
        case other(String)
        /// No WebDriver response at all (connection refused, reset, timed out).
        case transport
        /// A response that is not a WebDriver envelope.
        case malformedResponse

        public static let table: [(String, Code)] = [
            ("element click intercepted", .elementClickIntercepted),
            ("element not interactable", .elementNotInteractable),
            ("insecure certificate", .insecureCertificate), ("invalid argument", .invalidArgument),
            ("invalid cookie domain", .invalidCookieDomain), ("invalid element state", .invalidElementState),
            ("invalid selector", .invalidSelector), ("invalid session id", .invalidSessionId),
            ("javascript error", .javascriptError), ("move target out of bounds", .moveTargetOutOfBounds),
            ("no such alert", .noSuchAlert), ("no such cookie", .noSuchCookie),
            ("no such element", .noSuchElement), ("no such frame", .noSuchFrame),
            ("no such window", .noSuchWindow), ("no such shadow root", .noSuchShadowRoot),
            ("script timeout", .scriptTimeout), ("session not created", .sessionNotCreated),
            ("stale element reference", .staleElementReference),
            ("detached shadow root", .detachedShadowRoot), ("timeout", .timeout),
            ("unable to set cookie", .unableToSetCookie), ("unable to capture screen", .unableToCaptureScreen),
            ("unexpected alert open", .unexpectedAlertOpen), ("unknown command", .unknownCommand),
            ("unknown error", .unknownError), ("unknown method", .unknownMethod),
            ("unsupported operation", .unsupportedOperation),
        ]
        private static let byWire = Dictionary(uniqueKeysWithValues: table)

        public init(wire: String) {
            self = Code.byWire[wire] ?? .other(wire)
        }

        /// The code as it travels on the wire.
        public var wire: String {
            switch self {
            case .other(let s): return s
            case .transport: return "transport"
            case .malformedResponse: return "malformed response"
            default: return Code.table.first { $0.1 == self }?.0 ?? "unknown error"
            }
        }
    }

    public var code: Code
    public var message: String
    /// The HTTP status of the error response, when there was one.
    public var httpStatus: Int?
    public var underlying: HTTPError?

    public init(code: Code, message: String, httpStatus: Int? = nil, underlying: HTTPError? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.underlying = underlying
    }

    public var description: String {
        if let underlying { return "WebDriver unreachable: \(underlying)" }
        return "\(code.wire): \(message)"
    }

    /// The session is gone or unusable: the browser crashed, the tab died, the sidecar restarted
    /// or the connection to it broke. A new session is the cure.
    ///
    /// chromedriver reports a dead tab under several codes: its own `tab crashed` (not a W3C
    /// code), `unknown error` ("session deleted because of page crash"), `disconnected`, and on
    /// some commands `timeout` or `javascript error` carrying "tab crashed" in the message. So
    /// the phrases are looked for whatever the code.
    public var isSessionLost: Bool {
        switch code {
        case .invalidSessionId, .noSuchWindow: return true
        // No answer in time is not a loss: the remote end may be fine and the page hung
        // (`isUnresponsive`); every other transport failure means the remote end is gone.
        case .transport: return underlying?.code != .timeout
        default:
            let text = (code.wire + " " + message).lowercased()
            return Self.lossPhrases.contains { text.contains($0) }
        }
    }

    static let lossPhrases = [
        "tab crashed", "target crashed", "page crash", "renderer crashed", "session deleted",
        "chrome not reachable", "disconnected", "not connected to devtools", "browser has closed the connection",
        "target window already closed", "target frame detached",
        // chromedriver 156 after a dialog opened during a navigation: every later command fails so.
        "not attached to an active page",
    ]

    /// The current tab's renderer died ("tab crashed"), which chromedriver reports for that tab
    /// only: in a session with several tabs the others go on, and a new tab replaces the lost one.
    /// A message saying the session itself was deleted is a lost session, not a lost tab.
    public var isTabCrash: Bool {
        let text = (code.wire + " " + message).lowercased()
        guard !text.contains("session deleted"), code != .invalidSessionId else { return false }
        return ["tab crashed", "target crashed", "renderer crashed"].contains { text.contains($0) }
    }

    /// The remote end did not answer within the command's deadline. chromedriver runs one
    /// session's commands one after another and its own timeouts need a responsive renderer, so
    /// after this every later command of the session waits behind the stuck one: the session is
    /// no longer usable, though the browser still runs.
    public var isUnresponsive: Bool {
        code == .transport && underlying?.code == .timeout
    }
}
