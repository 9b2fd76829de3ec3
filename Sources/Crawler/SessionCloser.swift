import Blocking
import HTTP
import JSONKit
import Synchronization
import WebDriver

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Ends a WebDriver session and makes sure its browser is gone, within a few seconds, even when
/// the session no longer answers.
///
/// `DELETE /session/{id}` is what ends a browser: chromedriver owns it. But chromedriver runs a
/// session's commands one after another, and a renderer stuck in a script holds the current
/// command forever (its own timeouts need the renderer), so the DELETE waits behind it and the
/// abandoned browser keeps burning CPU. For such a session the page targets are first closed
/// through the browser's DevTools HTTP endpoint (`/json/close/{id}`, reachable on loopback in the
/// task's shared network namespace): that fails the stuck command, and the DELETE then goes
/// through. When it still does not, the browser's processes, named by their profile directory,
/// are killed — possible when the crawler sees the sidecar's processes (the local backend, or
/// an ECS task with `pidMode: task`).
/// https://chromedevtools.github.io/devtools-protocol/#endpoints
struct SessionCloser: Sendable {
    let http: any HTTPTransport
    let log: Log
    static let deleteTimeout: Duration = .seconds(5)
    static let devToolsTimeout: Duration = .seconds(2)

    /// How long a crawler whose stop grace is over (its worker cancelled) waits for a close. The
    /// DELETE waits behind the command chromedriver still runs (a page load), for seconds; the
    /// crawler must exit within its grace (on Fargate a slower exit is SIGKILLed after the
    /// container's stopTimeout, its results lost), and the sidecar is stopped with the task.
    static let stoppingWait: Duration = .milliseconds(300)

    /// Closes `session`; `unresponsive` when its commands no longer get answers. Runs detached
    /// from the caller's cancellation: a stopping crawler still ends its browsers — but when the
    /// caller is cancelled (the stop grace is spent) it waits at most `stoppingWait` for that.
    func close(_ session: WebDriverSession, unresponsive: Bool, label: String) async {
        let done = Atomic<Bool>(false)
        let ending = Task.detached {
            await self.end(session, unresponsive: unresponsive, label: label)
            done.store(true, ordering: .releasing)
        }
        guard Task.isCancelled else { return await ending.value }
        // Not a child task: a task group would wait for it. The pause runs detached, since a
        // cancelled task's sleep returns at once.
        let deadline = ContinuousClock.now + Self.stoppingWait
        while !done.load(ordering: .acquiring), ContinuousClock.now < deadline {
            await Task.detached { try? await Task.sleep(for: .milliseconds(20)) }.value
        }
    }

    private func end(_ session: WebDriverSession, unresponsive: Bool, label: String) async {
        var closedTargets = 0
        if unresponsive { closedTargets = await closePageTargets(session) }
        do {
            try await session.delete(timeout: Self.deleteTimeout)
            if unresponsive {
                log.info(
                    "\(label): abandoned session \(session.id) closed (\(closedTargets) page target(s) closed first)")
            }
            return
        } catch let error as WebDriverError where error.code == .transport && !error.isUnresponsive {
            // The driver itself is gone (a killed sidecar): its browsers went with it.
            return
        } catch let error as WebDriverError where error.code == .invalidSessionId {
            // The driver already ended the session (after a crash, say); make sure of its browser.
            await kill(session, quiet: true, label: label)
            return
        } catch {
            if !unresponsive { log.warn("\(label): DELETE of session \(session.id) failed: \(error)") }
        }
        await kill(session, quiet: false, label: label)
    }

    /// Kills what is left of the session's browser; quiet when nothing being left is expected.
    private func kill(_ session: WebDriverSession, quiet: Bool, label: String) async {
        guard let profile = session.browserUserDataDir else {
            if !quiet { log.warn("\(label): session \(session.id) did not end and its browser cannot be named") }
            return
        }
        let killed = await ThreadPool.shared.run { BrowserProcesses.kill(userDataDir: profile) }
        if !killed.isEmpty {
            log.warn("\(label): session \(session.id) did not end; killed its browser (pids \(killed))")
        } else if !quiet {
            log.warn(
                "\(label): session \(session.id) did not end, and no process of its browser is here to kill (a sidecar in another PID namespace may keep it running)"
            )
        }
    }

    /// Closes one page target — a tab whose renderer no longer answers — through the browser's
    /// DevTools HTTP endpoint, when that endpoint is on loopback. chromedriver's window handles
    /// are the DevTools target ids. Closing the target fails the command the tab holds, and the
    /// session's other tabs go on. False when it could not be closed.
    func closeTarget(_ session: WebDriverSession, id: String) async -> Bool {
        guard let address = session.debuggerAddress, Self.isLoopback(address), Self.isTargetID(id) else { return false }
        let request = HTTPRequest(
            url: "http://\(address)/json/close/\(id)", connectTimeout: .seconds(1), timeout: Self.devToolsTimeout)
        guard let answer = try? await http.send(request) else { return false }
        return answer.status == 200
    }

    static func isTargetID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64 && id.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" }
    }

    /// Closes every page target of the session's browser through its DevTools HTTP endpoint,
    /// when that endpoint is on loopback. Returns how many were closed.
    private func closePageTargets(_ session: WebDriverSession) async -> Int {
        guard let address = session.debuggerAddress, Self.isLoopback(address) else { return 0 }
        let base = "http://\(address)"
        guard
            let list = try? await http.send(
                HTTPRequest(url: base + "/json/list", connectTimeout: .seconds(1), timeout: Self.devToolsTimeout)),
            list.status == 200, let targets = try? JSONValue.decode(list.body).arrayValue
        else { return 0 }
        var closed = 0
        for target in targets where target["type"]?.stringValue == "page" {
            guard let id = target["id"]?.stringValue, Self.isTargetID(id) else { continue }
            let request = HTTPRequest(
                url: base + "/json/close/" + id, connectTimeout: .seconds(1), timeout: Self.devToolsTimeout)
            if let answer = try? await http.send(request), answer.status == 200 { closed += 1 }
        }
        return closed
    }

    static func isLoopback(_ address: String) -> Bool {
        guard let url = URL(string: "http://" + address), let host = url.host() else { return false }
        return host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
    }
}

/// The processes of one browser, found by the profile directory on their command lines.
enum BrowserProcesses {
    /// SIGKILLs every process whose command line holds `--user-data-dir=<userDataDir>`; their pids.
    /// Blocking (reads /proc): call it on a `ThreadPool` thread.
    static func kill(userDataDir: String) -> [Int32] {
        // A profile directory is an absolute path; anything else could match too widely.
        guard userDataDir.hasPrefix("/"), userDataDir.count > 4 else { return [] }
        let pids = find(userDataDir: userDataDir)
        for pid in pids { _ = Glibc.kill(pid, SIGKILL) }
        return pids
    }

    static func find(userDataDir: String) -> [Int32] {
        let needle = Array("--user-data-dir=\(userDataDir)".utf8)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        let me = getpid()
        var out: [Int32] = []
        for entry in entries {
            guard let pid = Int32(entry), pid > 1, pid != me,
                let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { continue }
            let bytes = [UInt8](data)
            // The argument must end right after the path (NUL, space or the end): no prefix match.
            var start = bytes.startIndex
            while let range = bytes[start...].firstRange(of: needle) {
                let end = range.upperBound
                if end == bytes.endIndex || bytes[end] == 0 || bytes[end] == 32 {
                    out.append(pid)
                    break
                }
                start = range.lowerBound + 1
            }
        }
        return out.sorted()
    }
}
