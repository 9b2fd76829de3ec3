import CrawlKit
import HTTP
import JSONKit
import WebDriver

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What one successful page visit yields.
struct PageResult: Sendable {
    var finalURL: String
    var title: String
    var status: Int?
    var fields: [String: JSONValue]
}

/// One attempt at one URL on one session: navigate, optionally wait for a selector, then a
/// single extraction script round trip. No retries here (the worker decides).
public struct PageVisitor: Sendable {
    let options: CrawlOptions
    let policy: NetworkPolicy
    let fieldSpec: JSONValue
    let uncommitted: UncommittedNavigation

    init(options: CrawlOptions, http: any HTTPTransport) {
        self.options = options
        self.policy = NetworkPolicy(allowPrivateNetworks: options.allowPrivateNetworks)
        self.uncommitted = UncommittedNavigation(http: http, policy: policy)
        var spec: [String: JSONValue] = [:]
        for (name, f) in options.fields {
            var o: [String: JSONValue] = ["selector": .string(f.selector), "all": .bool(f.all)]
            if let attr = f.attr { o["attr"] = .string(attr) }
            spec[name] = .object(o)
        }
        fieldSpec = .object(spec)
    }

    var scriptTimeoutMilliseconds: Int { Int(max(options.scriptTimeout, options.waitForTimeout + 2) * 1000) }
    var scriptDeadline: Duration {
        .milliseconds(Int64(max(options.scriptTimeout, options.waitForTimeout + 2) * 1000)) + Self.margin
    }
    /// chromedriver answers a page-load or script timeout at once when the renderer is alive; a
    /// renderer silent for this long after it is taken as hung (the session is replaced, and the
    /// record is the `timeout` the browser would have given).
    static let margin: Duration = .seconds(2)
    /// Deadline for `leave`: a responsive page answers in a millisecond or two.
    static let leaveDeadline: Duration = .seconds(3)
    /// Dialogs one command may meet before the page counts as opening them without end.
    static let maxDialogs = 20

    /// The network policy's verdict on a host, as the failure to record when it is refused.
    func check(host: String) async -> VisitFailure? {
        switch await policy.check(host: host) {
        case .allowed: return nil
        case .blocked(let why): return VisitFailure(.blocked, why)
        case .unresolvable(let why): return VisitFailure(.dns, "\(host) does not resolve: \(why)")
        }
    }

    /// The extracted page as the record shows it: refused when it was redirected somewhere the
    /// network policy refuses, an `http` failure (with the page) for a 4xx or 5xx status.
    func judge(_ page: PageResult, host: String) async throws(VisitFailure) -> PageResult {
        if let finalHost = URL(string: page.finalURL)?.host(), finalHost != host {
            if case .blocked(let why) = await policy.check(host: finalHost) {
                throw VisitFailure(.blocked, "redirected to \(page.finalURL): \(why)")
            }
        }
        if let status = page.status, status >= 400 {
            throw VisitFailure(.http, Self.describe(status: status), status: status, page: page)
        }
        return page
    }

    static func describe(status: Int) -> String {
        switch status {
        case 401: return "HTTP 401: authentication required"
        case 407: return "HTTP 407: proxy authentication required"
        default: return "HTTP \(status)"
        }
    }

    /// Runs one of the crawler's scripts again while a dialog gets in its way. With
    /// `unhandledPromptBehavior: "dismiss"` each command dismisses the dialog open when it starts,
    /// but a dialog that opens while it runs (a second `alert` in a load handler, a timer's
    /// `confirm`) fails it with "unexpected alert open", or cuts the script short and chromedriver
    /// answers `null`, which none of these scripts returns. Bounded: a page that opens dialogs
    /// without end fails as `script`.
    func dismissingDialogs(_ command: () async throws -> JSONValue) async throws -> JSONValue {
        var last = "a script returned nothing"
        for _ in 0..<Self.maxDialogs {
            do {
                let value = try await command()
                if value != .null { return value }
            } catch let error as WebDriverError where error.code == .unexpectedAlertOpen {
                last = ErrorClassifier.firstLine(error.message)
            }
        }
        throw VisitFailure(.script, "the page kept opening dialogs (\(Self.maxDialogs) in a row): \(last)")
    }

    /// The extraction round trip. A page that navigates away while the script runs ("execution
    /// context was destroyed") gets one more try, on the page it went to. In a tabbed session,
    /// whose script timeout is short (see `capabilities`), an extraction that outlasts it is run
    /// again with the whole `scriptTimeout`.
    func extract(
        _ session: any PageChannel, url: String, tabbed: Bool = false
    ) async throws(VisitFailure)
        -> PageResult
    {
        var lengthened = false
        let answer = await extractionValue(session, url: url, tabbed: tabbed, lengthened: &lengthened)
        if lengthened {
            // Back to the short timeout the other tabs' checks rely on.
            try? await session.setScriptTimeout(
                milliseconds: Int(TabPolling.scriptTimeoutMilliseconds), deadline: Self.leaveDeadline)
        }
        return try await interpret(try answer.get(), url: url)
    }

    private func extractionValue(
        _ session: any PageChannel, url: String, tabbed: Bool, lengthened: inout Bool
    ) async -> Result<JSONValue, VisitFailure> {
        var retriedNavigation = false
        while true {
            do {
                return .success(
                    try await dismissingDialogs {
                        try await session.execute(
                            PageScripts.extract, args: [fieldSpec, .string(url)], timeout: scriptDeadline)
                    })
            } catch let error as WebDriverError where tabbed && !lengthened && error.code == .scriptTimeout {
                lengthened = true
                do {
                    try await session.setScriptTimeout(
                        milliseconds: scriptTimeoutMilliseconds, deadline: Self.leaveDeadline)
                } catch {
                    return .failure(
                        VisitFailure(.webdriver, "extract: the script timeout cannot be lengthened: \(error)"))
                }
            } catch let error as WebDriverError {
                let m = error.message.lowercased()
                if !retriedNavigation && !error.isSessionLost
                    && (m.contains("context was destroyed") || m.contains("navigat"))
                {
                    retriedNavigation = true
                    continue
                }
                return .failure(ErrorClassifier.classify(error, during: "extract"))
            } catch let failure as VisitFailure {
                return .failure(failure)
            } catch {
                return .failure(VisitFailure(.webdriver, "extract: \(error)"))
            }
        }
    }

    /// What the extraction script's answer means for the record.
    func interpret(_ value: JSONValue, url: String) async throws(VisitFailure) -> PageResult {
        guard value.objectValue != nil else {
            let answer = String(decoding: value.encoded().prefix(100), as: UTF8.self)
            throw VisitFailure(.script, "the extraction script returned \(answer) instead of the page's data")
        }
        if value["old"] == .bool(true) {
            // Never the previous page's data: say what the URL answered instead.
            var failure = await uncommitted.failure(for: url)
            failure.previousPageShown = true
            throw failure
        }
        let page = PageResult(
            finalURL: value["u"]?.stringValue ?? "",
            title: value["t"]?.stringValue ?? "",
            status: value["s"]?.intValue,
            fields: value["f"]?.objectValue ?? [:])
        if value["ep"] == .bool(true) {
            // The browser's own error page: nothing in it describes the URL.
            if let status = page.status, status >= 400 {
                throw VisitFailure(.http, Self.describe(status: status), status: status)
            }
            let code = value["e"]?.stringValue ?? "ERR_FAILED"
            throw VisitFailure(
                ErrorClassifier.kind(forNetError: code), ErrorClassifier.describe(netError: code))
        }
        if let fieldError = value["fe"]?.stringValue {
            throw VisitFailure(.script, fieldError, status: page.status, page: page)
        }
        return page
    }
}
