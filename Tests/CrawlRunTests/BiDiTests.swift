import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing
import WebDriver

extension Chrome {
    /// WebDriver BiDi over our WebSocket client, against a real chromedriver and headless Chromium.
    @Suite struct BiDiTests {
        static let caps: JSONValue = [
            "browserName": "chrome", "unhandledPromptBehavior": "dismiss", "webSocketUrl": true,
            "goog:chromeOptions": ["args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage"]],
        ]

        /// A session asking for BiDi, its connection, the fixture site; all stopped on every way out.
        func withBiDi(
            _ body: (BiDiConnection, WebDriverSession, FixtureServer, ChromeDriver) async throws -> Void
        ) async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            let client = WebDriverClient(baseURL: driver.url, http: CurlHTTPClient())
            let result = await Result {
                let session = try await client.newSession(alwaysMatch: Self.caps)
                let inner = await Result {
                    let url = try #require(session.webSocketURL)
                    #expect(url.hasPrefix("ws://127.0.0.1:\(driver.port)/"))
                    #expect(BiDiConnection.endpoint(url, reachedThrough: driver.url) == url)
                    let bidi = try await BiDiConnection.open(url, timeout: .seconds(10))
                    let used = await Result { try await body(bidi, session, server, driver) }
                    await bidi.close()
                    try used.get()
                }
                // After a killed chromedriver there is nothing left to delete.
                if driver.process.exitStatus == nil { try? await session.delete(timeout: .seconds(10)) }
                try inner.get()
            }
            await driver.stop()
            server.stop()
            try result.get()
        }

        static func evaluate(_ expression: String, in context: String, awaitPromise: Bool = false) -> JSONValue {
            [
                "expression": .string(expression), "target": ["context": .string(context)],
                "awaitPromise": .bool(awaitPromise),
            ]
        }

        /// A command awaiting a promise that never settles, once it is on the wire: registered, and
        /// a later command answered.
        static func neverAnswered(_ bidi: BiDiConnection, _ context: String) async throws -> Task<JSONValue, any Error>
        {
            let before = bidi.commandsInFlight
            let task = Task {
                try await bidi.command(
                    "script.evaluate", evaluate("new Promise(() => {})", in: context, awaitPromise: true),
                    timeout: .seconds(60))
            }
            #expect(await eventually { bidi.commandsInFlight == before + 1 })
            _ = try await bidi.command("browsingContext.getTree", [:], timeout: .seconds(10))
            return task
        }

        @Test func connectsAndListsTheFirstContext() async throws {
            try await withBiDi { bidi, session, _, _ in
                let tree = try await bidi.command("browsingContext.getTree", [:], timeout: .seconds(10))
                let contexts = tree["contexts"]?.arrayValue ?? []
                #expect(contexts.count == 1)
                // chromedriver's BiDi context ids are the classic window handles.
                #expect(contexts.first?["context"]?.stringValue == (try await session.windowHandle()))
            }
        }

        @Test func tabsNavigateLoadAndEvaluateConcurrently() async throws {
            try await withBiDi { bidi, _, server, _ in
                _ = try await bidi.command(
                    "session.subscribe", ["events": ["browsingContext.load"]], timeout: .seconds(10))
                var created: [String] = []
                for _ in 0..<3 {
                    let answer = try await bidi.command(
                        "browsingContext.create", ["type": "tab"], timeout: .seconds(10))
                    created.append(try #require(answer["context"]?.stringValue))
                }
                let contexts = created
                #expect(Set(contexts).count == 3)
                // The events' consumer starts before the navigations so that no load is missed.
                let loads = Task {
                    var seen: [String: [String]] = [:]
                    for await event in bidi.events where event.method == "browsingContext.load" {
                        guard let context = event.params["context"]?.stringValue,
                            let navigation = event.params["navigation"]?.stringValue
                        else { continue }
                        seen[context, default: []].append(navigation)
                        if Set(contexts).isSubset(of: seen.keys) { break }
                    }
                    return seen
                }
                let navigations = try await withThrowingTaskGroup(of: (String, String).self) { group in
                    for (i, context) in contexts.enumerated() {
                        group.addTask {
                            let answer = try await bidi.command(
                                "browsingContext.navigate",
                                [
                                    "context": .string(context), "url": .string(server.baseURL + "/page/\(i + 1)"),
                                    "wait": "none",
                                ], timeout: .seconds(10))
                            return (context, try #require(answer["navigation"]?.stringValue))
                        }
                    }
                    return try await group.reduce(into: [String: String]()) { $0[$1.0] = $1.1 }
                }
                let seen = try await value(of: loads, within: .seconds(20))
                for context in contexts {
                    let navigation = try #require(navigations[context])
                    #expect(seen[context]?.contains(navigation) == true, "load of \(context): \(seen)")
                }
                // Every context at once: evaluate and callFunction with a string argument.
                let titles = try await withThrowingTaskGroup(of: (Int, String, String).self) { group in
                    for (i, context) in contexts.enumerated() {
                        group.addTask {
                            async let evaluated = bidi.command(
                                "script.evaluate", Self.evaluate("document.title", in: context), timeout: .seconds(10))
                            async let called = bidi.command(
                                "script.callFunction",
                                [
                                    "functionDeclaration": "(suffix) => document.title + suffix",
                                    "arguments": [["type": "string", "value": "!"]],
                                    "target": ["context": .string(context)], "awaitPromise": false,
                                ], timeout: .seconds(10))
                            let (e, c) = try await (evaluated, called)
                            return (
                                i, e["result"]?["value"]?.stringValue ?? "\(e)",
                                c["result"]?["value"]?.stringValue ?? "\(c)"
                            )
                        }
                    }
                    return try await group.reduce(into: [Int: (String, String)]()) { $0[$1.0] = ($1.1, $1.2) }
                }
                for i in 0..<3 {
                    #expect(titles[i]?.0 == "Page \(i + 1)")
                    #expect(titles[i]?.1 == "Page \(i + 1)!")
                }
            }
        }

        @Test func errorsLargeResultsAndTimeouts() async throws {
            try await withBiDi { bidi, session, _, _ in
                let context = try await session.windowHandle()
                let missing = await #expect(throws: WebDriverError.self) {
                    _ = try await bidi.command(
                        "script.evaluate", Self.evaluate("1", in: "no-such-context"), timeout: .seconds(10))
                }
                #expect(missing?.code == .noSuchFrame)
                let unknown = await #expect(throws: WebDriverError.self) {
                    _ = try await bidi.command("nope.nothing", [:], timeout: .seconds(10))
                }
                #expect(unknown?.code == .unknownCommand)

                // ~2 MB in one answer: the 64-bit length (or fragments) on the way in.
                let big = try await bidi.command(
                    "script.evaluate", Self.evaluate("'x'.repeat(2 * 1024 * 1024) + 'end'", in: context),
                    timeout: .seconds(30))
                let text = big["result"]?["value"]?.stringValue ?? ""
                #expect(text.utf8.count == 2 * 1024 * 1024 + 3)
                #expect(text.hasSuffix("xend"))

                let start = ContinuousClock.now
                let stuck = await #expect(throws: WebDriverError.self) {
                    _ = try await bidi.command(
                        "script.evaluate", Self.evaluate("new Promise(() => {})", in: context, awaitPromise: true),
                        timeout: .seconds(1))
                }
                #expect(stuck?.code == .timeout)
                #expect(ContinuousClock.now - start < .seconds(5))
                // The connection goes on; the late answer, if any, is dropped.
                let after = try await bidi.command(
                    "script.evaluate", Self.evaluate("6 * 7", in: context), timeout: .seconds(10))
                #expect(after["result"]?["value"]?.intValue == 42)

                // Cancelling the waiting task ends its wait at once.
                let waiting = try await Self.neverAnswered(bidi, context)
                let cancelStart = ContinuousClock.now
                waiting.cancel()
                let cancelled = await #expect(throws: WebDriverError.self) { _ = try await waiting.value }
                #expect(cancelled?.underlying?.code == .cancelled)
                #expect(ContinuousClock.now - cancelStart < .seconds(2))
                #expect(bidi.commandsInFlight == 0)
                #expect(
                    try await bidi.command("browsingContext.getTree", [:], timeout: .seconds(10))["contexts"] != nil)
            }
        }

        @Test func killedDriverFailsCommandsAndEndsEvents() async throws {
            try await withBiDi { bidi, session, _, driver in
                let context = try await session.windowHandle()
                let events = Task {
                    var count = 0
                    for await _ in bidi.events { count += 1 }
                    return count
                }
                let inFlight = try await Self.neverAnswered(bidi, context)
                let killed = ContinuousClock.now
                await driver.kill()
                let first = await #expect(throws: WebDriverError.self) { _ = try await inFlight.value }
                #expect(first?.code == .transport)
                #expect(first?.isSessionLost == true)
                #expect(ContinuousClock.now - killed < .seconds(5))
                let next = await #expect(throws: WebDriverError.self) {
                    _ = try await bidi.command("browsingContext.getTree", [:], timeout: .seconds(10))
                }
                #expect(next?.code == .transport)
                #expect(ContinuousClock.now - killed < .seconds(5))
                _ = try await value(of: events, within: .seconds(5))
            }
        }

        @Test func closeFailsCommandsInFlightAndLaterOnes() async throws {
            try await withBiDi { bidi, session, _, _ in
                let context = try await session.windowHandle()
                let inFlight = try await Self.neverAnswered(bidi, context)
                let start = ContinuousClock.now
                await bidi.close()
                #expect(ContinuousClock.now - start < .seconds(3))
                let first = await #expect(throws: WebDriverError.self) { _ = try await inFlight.value }
                #expect(first?.code == .transport)
                let later = await #expect(throws: WebDriverError.self) {
                    _ = try await bidi.command("browsingContext.getTree", [:], timeout: .seconds(10))
                }
                #expect(later?.code == .transport)
                // The classic session is untouched by the BiDi connection's end.
                #expect(try await session.execute("return 2") == 2)
            }
        }

        /// Round trips of a trivial script, BiDi `script.evaluate` against classic
        /// `POST /execute/sync`, on the same session and page. Prints the figures.
        @Test func roundTripBiDiVersusClassic() async throws {
            try await withBiDi { bidi, session, server, _ in
                try await session.navigate(to: server.baseURL + "/page/1")
                let context = try await session.windowHandle()
                let rounds = 200
                for _ in 0..<20 {  // warm both paths
                    _ = try await bidi.command(
                        "script.evaluate", Self.evaluate("1", in: context), timeout: .seconds(10))
                    _ = try await session.execute("return 1")
                }
                var start = ContinuousClock.now
                for _ in 0..<rounds {
                    let r = try await bidi.command(
                        "script.evaluate", Self.evaluate("1", in: context), timeout: .seconds(10))
                    #expect(r["result"]?["value"]?.intValue == 1)
                }
                let bidiTime = ContinuousClock.now - start
                start = .now
                for _ in 0..<rounds { #expect(try await session.execute("return 1") == 1) }
                let classicTime = ContinuousClock.now - start
                start = .now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<rounds {
                        group.addTask {
                            _ = try await bidi.command(
                                "script.evaluate", Self.evaluate("1", in: context), timeout: .seconds(30))
                        }
                    }
                    try await group.waitForAll()
                }
                let concurrentTime = ContinuousClock.now - start
                func ms(_ d: Duration) -> String {
                    String(
                        format: "%.3f",
                        Double(d.components.seconds) * 1000 / Double(rounds)
                            + Double(d.components.attoseconds) / 1e15 / Double(rounds))
                }
                print(
                    "BiDi round trip: script.evaluate \(ms(bidiTime)) ms, classic execute/sync \(ms(classicTime)) ms"
                        + " (mean of \(rounds), sequential); BiDi \(rounds) at once: \(ms(concurrentTime)) ms per command"
                )
            }
        }
    }
}

@Suite struct BiDiEndpointTests {
    @Test func gridsNodeAddressIsReplacedByTheOneTheClientUses() {
        let grid = "ws://172.22.0.3:4444/session/7b43d5/se/bidi"
        #expect(
            BiDiConnection.endpoint(grid, reachedThrough: "http://127.0.0.1:4444")
                == "ws://127.0.0.1:4444/session/7b43d5/se/bidi")
        #expect(
            BiDiConnection.endpoint(grid, reachedThrough: "http://selenium:4444/wd/hub")
                == "ws://selenium:4444/session/7b43d5/se/bidi")
        #expect(
            BiDiConnection.endpoint("ws://[::1]:9515/session/a", reachedThrough: "http://[::1]:9515")
                == "ws://[::1]:9515/session/a")
        #expect(BiDiConnection.endpoint(grid, reachedThrough: "https://grid.example:443") == grid)
        #expect(
            BiDiConnection.endpoint("wss://grid/session/a", reachedThrough: "http://127.0.0.1:4444")
                == "wss://grid/session/a")
    }
}

private struct TimedOut: Error {}

/// `task`'s value, or `TimedOut` after `limit` (a bound on a wait, not a synchronisation); the
/// task is cancelled then, which ends an iteration of an `AsyncStream`.
private func value<T: Sendable>(of task: Task<T, Never>, within limit: Duration) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            await withTaskCancellationHandler {
                await task.value
            } onCancel: {
                task.cancel()
            }
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw TimedOut() }
        return value
    }
}
