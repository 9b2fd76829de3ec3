import HTTP
import JSONKit
import Synchronization
import WebDriver

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One session's WebDriver BiDi connection as a `TabDriver` uses it
/// (https://w3c.github.io/webdriver-bidi/): the crawler's scripts and navigations addressed to a
/// browsing context — chromedriver's context ids are its window handles, so the ledger's windows
/// name them — with no window switch, and the navigation events the browser pushes, which say
/// when a check is worth sending. Everything else (opening and closing tabs, DevTools, artifacts)
/// stays on the classic commands of the same session.
final class BiDiTabs: Sendable {
    let connection: BiDiConnection
    /// `crawl.pageLoadStrategy`: which event makes a page worth checking.
    let strategy: String
    private let state = Mutex(State())
    private let listener: Mutex<Task<Void, Never>?> = Mutex(nil)

    /// What the events said of one navigation.
    struct Navigation: Sendable {
        let context: String
        var committedAt: ContinuousClock.Instant?
        var domContentLoaded = false
        var loaded = false
        /// Failed, aborted, a download, or a fragment of the same document: no load event comes.
        var ended = false
    }

    struct State: Sendable {
        var navigations: [String: Navigation] = [:]
        /// Per context, the navigation its last `navigate` started.
        var ours: [String: String] = [:]
        /// Contexts whose navigation became worth checking since the driver last asked.
        var pushed: Set<String> = []
        var failedNavigations = 0
        /// The tabs' contexts (a navigation's events may come before its command's answer).
        var known: Set<String> = []
    }

    /// A check of a page whose navigation has committed but not loaded is sent only after this
    /// long (the page's own redirect during its load ends our navigation's events early).
    static let committedWait: Duration = .seconds(1)
    static let events = [
        "browsingContext.navigationCommitted", "browsingContext.domContentLoaded", "browsingContext.load",
        "browsingContext.navigationFailed", "browsingContext.navigationAborted",
        "browsingContext.fragmentNavigated", "browsingContext.downloadWillBegin",
    ]

    private init(connection: BiDiConnection, strategy: String) {
        self.connection = connection
        self.strategy = strategy
    }

    /// Connects to the session's WebSocket and subscribes to the navigation events of every
    /// context, present and future.
    static func open(_ url: String, strategy: String, timeout: Duration) async throws(WebDriverError) -> BiDiTabs {
        let connection = try await BiDiConnection.open(url, timeout: timeout)
        let tabs = BiDiTabs(connection: connection, strategy: strategy)
        let stream = connection.events
        tabs.listener.withLock {
            $0 = Task { [weak tabs] in
                for await event in stream { tabs?.take(event) }
            }
        }
        do {
            _ = try await connection.command(
                "session.subscribe", ["events": .array(events.map { .string($0) })], timeout: timeout)
        } catch {
            await tabs.close()
            throw error
        }
        return tabs
    }

    func close() async {
        listener.withLock { $0?.cancel() }
        await connection.close()
    }

    func tab(_ context: String) -> BiDiTab { BiDiTab(tabs: self, context: context) }

    private func take(_ event: BiDiEvent) {
        guard let context = event.params["context"]?.stringValue,
            let id = event.params["navigation"]?.stringValue
        else { return }
        state.withLock { s in
            // Only the tabs' own navigations are kept (not those of the frames in their pages).
            guard s.known.contains(context) else { return }
            var n = s.navigations[id] ?? Navigation(context: context)
            switch event.method {
            case "browsingContext.navigationCommitted": n.committedAt = n.committedAt ?? .now
            case "browsingContext.domContentLoaded":
                n.committedAt = n.committedAt ?? .now
                n.domContentLoaded = true
            case "browsingContext.load":
                n.committedAt = n.committedAt ?? .now
                n.domContentLoaded = true
                n.loaded = true
            default: n.ended = true
            }
            s.navigations[id] = n
            if s.ours[context] == id, Self.worthChecking(n, strategy: strategy, now: .now) { s.pushed.insert(context) }
        }
    }

    /// True when a check of the page can answer something: its load by the strategy, or a
    /// navigation that ended without one, or committed a while ago.
    static func worthChecking(_ n: Navigation, strategy: String, now: ContinuousClock.Instant) -> Bool {
        if n.ended || n.loaded { return true }
        if strategy == "eager" && n.domContentLoaded { return true }
        guard let committed = n.committedAt else { return false }
        return strategy == "none" || now - committed >= committedWait
    }

    /// Whether `context`'s last navigation is worth a check now. A navigation not yet committed
    /// leaves the previous document in the tab: classic chromedriver held the check meanwhile,
    /// here no command is sent at all.
    func worthChecking(_ context: String) -> Bool {
        state.withLock { s in
            guard let id = s.ours[context], let n = s.navigations[id] else {
                // No event yet for a navigation that answered: not committed.
                return s.ours[context] == nil
            }
            return Self.worthChecking(n, strategy: strategy, now: .now)
        }
    }

    /// The contexts whose navigation became worth checking since the last call.
    func takePushed() -> Set<String> {
        state.withLock { s in
            defer { s.pushed = [] }
            return s.pushed
        }
    }

    var hasPushed: Bool { state.withLock { !$0.pushed.isEmpty } }

    /// A navigation is being sent to `context`: its events are kept from now on, and until its
    /// answer names it, nothing in the tab is worth checking. The token names the sending.
    fileprivate func sending(_ context: String) -> String {
        state.withLock { s in
            s.known.insert(context)
            s.failedNavigations += 1
            let token = "sent-\(s.failedNavigations)"
            s.ours[context] = token
            s.pushed.remove(context)
            return token
        }
    }

    /// `context` now navigates by `id` (nil: the navigation failed): the events of its earlier
    /// navigations are dropped. Nothing changes when another navigation was sent since.
    fileprivate func navigating(_ context: String, id: String?, sent: String) {
        state.withLock { s in
            guard s.ours[context] == sent else { return }
            let key: String
            if let id {
                key = id
            } else {
                // The navigation failed at once (a 204, a download): nothing will load.
                s.failedNavigations += 1
                key = "failed-\(s.failedNavigations)"
                var n = Navigation(context: context)
                n.ended = true
                s.navigations[key] = n
            }
            s.ours[context] = key
            s.navigations = s.navigations.filter { $0.value.context != context || $0.key == key }
            s.pushed.remove(context)
            if let n = s.navigations[key], Self.worthChecking(n, strategy: strategy, now: .now) {
                s.pushed.insert(context)
            }
        }
    }

    /// The context is closed: its events are forgotten.
    func forget(_ context: String) {
        state.withLock { s in
            s.ours[context] = nil
            s.known.remove(context)
            s.navigations = s.navigations.filter { $0.value.context != context }
            s.pushed.remove(context)
        }
    }
}

/// One browsing context as a `PageChannel`. The classic scripts run unchanged inside a function
/// whose arguments and answer cross as JSON text: a BiDi remote value needs no decoding then, and
/// the answer is exactly what classic WebDriver would have returned.
struct BiDiTab: PageChannel {
    let tabs: BiDiTabs
    let context: String

    func execute(_ script: String, args: [JSONValue], timeout: Duration) async throws -> JSONValue {
        let function = """
            function (a) {
              const r = (function () {
            \(script)
              }).apply(window, JSON.parse(a));
              return JSON.stringify(r === undefined ? null : r);
            }
            """
        return try await call(function, args: args, timeout: timeout)
    }

    func executeAsync(_ script: String, args: [JSONValue], timeout: Duration) async throws -> JSONValue {
        let function = """
            function (a) {
              return new Promise((resolve) => {
                (function () {
            \(script)
                }).apply(window, JSON.parse(a).concat([(v) => resolve(JSON.stringify(v === undefined ? null : v))]));
              });
            }
            """
        return try await call(function, args: args, timeout: timeout)
    }

    /// Sends the navigation and returns at once: chromedriver answers `wait: "none"` only once
    /// the server has answered (measured: a server slow by 4 s held it 4 s), and the page-load
    /// timeout runs from the navigation's start. Its answer names the navigation whose events
    /// the checks wait for; a failure (a 204, a 304 or a download answer `net::ERR_ABORTED`)
    /// lets the check read what the tab shows — the marked document, or the browser's error
    /// page — as over classic.
    func navigate(to url: String, timeout: Duration) async throws {
        let token = tabs.sending(context)
        let connection = tabs.connection
        let tabs = tabs
        let context = context
        Task {
            do {
                let answer = try await connection.command(
                    "browsingContext.navigate", ["context": .string(context), "url": .string(url), "wait": "none"],
                    timeout: timeout + .seconds(600))
                tabs.navigating(context, id: answer["navigation"]?.stringValue, sent: token)
            } catch {
                tabs.navigating(context, id: nil, sent: token)
            }
        }
    }

    func setScriptTimeout(milliseconds: Int, deadline: Duration) async throws {}

    static let contextRetries = 10

    private func call(_ function: String, args: [JSONValue], timeout: Duration) async throws -> JSONValue {
        let params: JSONValue = [
            "functionDeclaration": .string(function),
            "arguments": [
                ["type": "string", "value": .string(String(decoding: JSONValue.array(args).encoded(), as: UTF8.self))]
            ],
            "target": ["context": .string(context)],
            "awaitPromise": true,
            "resultOwnership": "none",
        ]
        var answer: JSONValue = .null
        for attempt in 0..<Self.contextRetries {
            do {
                answer = try await tabs.connection.command("script.callFunction", params, timeout: timeout)
                break
            } catch let error where error.message.contains("Cannot find context") && attempt + 1 < Self.contextRetries {
                // The tab is between two documents (an error page committing after a failed
                // navigation): classic chromedriver held the script meanwhile.
                try? await Task.sleep(for: .milliseconds(30))
            } catch {
                throw Self.classic(error)
            }
        }
        if answer["type"]?.stringValue == "exception" {
            let text = answer["exceptionDetails"]?["text"]?.stringValue ?? "an exception"
            throw WebDriverError(code: .javascriptError, message: text)
        }
        guard let text = answer["result"]?["value"]?.stringValue else { return .null }
        do {
            return try JSONValue.decode(Data(text.utf8))
        } catch {
            throw WebDriverError(code: .malformedResponse, message: "a script answered text that is not JSON")
        }
    }

    /// The BiDi error as the crawler's classifier knows it from classic WebDriver: a context gone
    /// is a window gone; no answer in time is an unresponsive page.
    static func classic(_ error: WebDriverError) -> WebDriverError {
        switch error.code {
        case .noSuchFrame: return WebDriverError(code: .noSuchWindow, message: error.message)
        case .timeout:
            return WebDriverError(
                code: .transport, message: error.message,
                underlying: HTTPError(code: .timeout, curlCode: 28, message: error.message, url: "bidi"))
        default: return error
        }
    }
}
