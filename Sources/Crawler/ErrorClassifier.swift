import CrawlKit
import WebDriver

/// Maps what the browser said to the closed set of error kinds, with a short message a person
/// reads (the first line of the driver's message; net::ERR_* codes named, stack traces dropped).
enum ErrorClassifier {
    static func kind(forNetError code: String) -> ErrorKind {
        let c = code.uppercased()
        if c.contains("NAME_NOT_RESOLVED") || c.contains("NAME_RESOLUTION_FAILED") || c.hasPrefix("DNS") {
            return .dns
        }
        if c.contains("TIMED_OUT") { return .timeout }
        if c.contains("CERT") || c.contains("SSL") || c.contains("TLS") { return .tls }
        if c.contains("TOO_MANY_REDIRECTS") || c.contains("REDIRECT") { return .redirect }
        if c.contains("CONNECTION_") || c.contains("EMPTY_RESPONSE") || c.contains("ADDRESS_UNREACHABLE")
            || c.contains("INTERNET_DISCONNECTED") || c.contains("NETWORK_CHANGED") || c.contains("SOCKET")
        {
            return .connection
        }
        return .navigation
    }

    /// The net::ERR_* token in a driver message, if any.
    static func netError(in message: String) -> String? {
        guard let r = message.firstRange(of: "net::ERR_") else { return nil }
        let tail = message[r.lowerBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }
        return String(tail.dropFirst("net::".count))
    }

    static func firstLine(_ message: String) -> String {
        let line = message.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? message
        return String(line.prefix(300))
    }

    static func describe(netError code: String) -> String {
        let words = (code.hasPrefix("ERR_") ? code.dropFirst(4) : Substring(code)).lowercased().replacing(
            "_", with: " ")
        return "\(words) (net::\(code))"
    }

    /// Classifies a failed WebDriver command during a visit.
    /// Any error of a step: a WebDriver error classified as below, a failure already made kept
    /// as it is (a dialog storm), anything else a `webdriver` failure naming the step.
    static func classify(_ error: any Error, during step: String) -> VisitFailure {
        switch error {
        case let error as WebDriverError: return classify(error, during: step)
        case let failure as VisitFailure: return failure
        default: return VisitFailure(.webdriver, "\(step): \(error)")
        }
    }

    static func classify(_ error: WebDriverError, during step: String) -> VisitFailure {
        if error.isUnresponsive {
            return VisitFailure(
                .timeout, "\(step): no answer from the browser in time (the page's renderer is not responding)",
                unresponsive: true)
        }
        if error.isSessionLost {
            var failure = VisitFailure(
                .browserCrash,
                "\(step): \(error.code == .transport ? "WebDriver connection lost" : firstLine(error.message))",
                sessionLost: true)
            failure.tabLost = error.isTabCrash
            return failure
        }
        if let net = netError(in: error.message) {
            return VisitFailure(kind(forNetError: net), describe(netError: net))
        }
        switch error.code {
        case .timeout, .scriptTimeout:
            return VisitFailure(.timeout, "\(step) timed out: \(firstLine(error.message))")
        case .insecureCertificate:
            return VisitFailure(.tls, "insecure certificate: \(firstLine(error.message))")
        case .javascriptError:
            return VisitFailure(.script, "\(step): \(firstLine(error.message))")
        default:
            return VisitFailure(.webdriver, "\(step): \(error.code.wire): \(firstLine(error.message))")
        }
    }
}

/// Why one attempt at a URL failed.
struct VisitFailure: Error, Sendable {
    var kind: ErrorKind
    var message: String
    /// The session is gone (crashed tab, dead browser or sidecar): replace it.
    var sessionLost: Bool
    /// The session no longer answers (a hung renderer holds its commands): abandon and close it.
    var unresponsive: Bool
    var status: Int?
    var page: PageResult?
    /// The browser still shows the previous URL's page: nothing of it (fields, screenshot,
    /// source) may be saved for this one.
    var previousPageShown = false
    /// Only the tab is gone (its renderer crashed, or hung and was closed): in a tabbed session
    /// a new tab replaces it and the session's other tabs go on.
    var tabLost = false
    /// The attempt ended because another tab's page made the session unusable: it is tried
    /// again without counting against `maxAttempts`.
    var notCharged = false
    /// The tab's own document was navigating (a script's redirect) when it was to be marked:
    /// the tab is replaced and the attempt begun again, uncounted (`TabLoad.busyTab`).
    var tabBusy = false
    /// A command outlasted its deadline but the browser answered the next one: it was slow (a
    /// loaded machine), not hung. Nothing was closed; the same step is tried again.
    var slow = false
    /// The sidecar cannot do what the job asks (no DevTools endpoint for `crawl.headers`): no
    /// session of it ever will.
    var unsupported = false

    init(
        _ kind: ErrorKind, _ message: String, sessionLost: Bool = false, unresponsive: Bool = false,
        status: Int? = nil, page: PageResult? = nil
    ) {
        self.kind = kind
        self.message = message
        self.sessionLost = sessionLost
        self.unresponsive = unresponsive
        self.status = status
        self.page = page
    }

    var retryable: Bool { kind.isRetryable(status: status) }
    /// The session cannot be used for the next URL.
    var abandonsSession: Bool { sessionLost || unresponsive }
}
