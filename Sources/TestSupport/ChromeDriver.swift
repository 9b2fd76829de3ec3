import HTTP
import ProcessKit
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A real chromedriver on a free loopback port, in its own process group (so Chrome goes
/// with it). `CHROMEDRIVER` overrides the binary.
public final class ChromeDriver: Sendable {
    public let port: UInt16
    public let process: ChildProcess
    public var url: String { "http://127.0.0.1:\(port)" }

    private init(port: UInt16, process: ChildProcess) {
        self.port = port
        self.process = process
    }

    public static var binary: String { ProcessInfo.processInfo.environment["CHROMEDRIVER"] ?? "chromedriver" }

    /// Starts chromedriver without waiting for it.
    public static func launch(port: UInt16? = nil, urlBase: String? = nil) throws -> ChromeDriver {
        let p = try port ?? freePort()
        var args = ["--port=\(p)"]
        if let urlBase { args.append("--url-base=\(urlBase)") }
        let process = try ChildProcess(binary, arguments: args, stdout: .null, stderr: .null, name: "chromedriver")
        return ChromeDriver(port: p, process: process)
    }

    /// Starts chromedriver and waits until `/status` says ready. Without a port, chromedriver
    /// picks its own (`launchOnItsOwnPort`).
    public static func start(port: UInt16? = nil, urlBase: String? = nil) async throws -> ChromeDriver {
        let driver =
            if let port { try launch(port: port, urlBase: urlBase) } else {
                try await launchOnItsOwnPort(urlBase: urlBase)
            }
        try await driver.waitUntilReady(path: (urlBase ?? "") + "/status")
        return driver
    }

    /// `--port=0`: chromedriver names the port it took ("ChromeDriver was started successfully
    /// on port N.").
    static func launchOnItsOwnPort(urlBase: String?) async throws -> ChromeDriver {
        var args = ["--port=0"]
        if let urlBase { args.append("--url-base=\(urlBase)") }
        let (process, port) = try await launchOnOwnPort(
            binary, arguments: args, portAfter: "started successfully on port ", timeout: .seconds(20),
            name: "chromedriver")
        return ChromeDriver(port: port, process: process)
    }

    public func waitUntilReady(path: String = "/status", timeout: Duration = .seconds(20)) async throws {
        let http = CurlHTTPClient(connectTimeout: .milliseconds(200), timeout: .seconds(2))
        let ok = await eventually(timeout: timeout) {
            if self.process.exitStatus != nil { return true }
            guard let r = try? await http.send(HTTPRequest(url: self.url + path)) else { return false }
            return String(decoding: r.body, as: UTF8.self).contains("\"ready\":true")
        }
        if let status = process.exitStatus { throw FixtureError("chromedriver exited (\(status))") }
        if !ok { throw FixtureError("chromedriver on port \(port) not ready within \(timeout)") }
    }

    /// SIGTERM, then SIGKILL, to chromedriver and its browsers.
    public func stop() async {
        await process.terminate(grace: .seconds(3))
    }

    /// SIGKILL to the whole group at once: a crashed sidecar.
    public func kill() async {
        process.signalGroup(SIGKILL)
        _ = await process.wait()
    }

    /// Browser processes still alive in this chromedriver's process group.
    public var browserProcessCount: Int {
        processesInGroup(process.pid).count
    }

    /// Browsers alive under this chromedriver, counting a browser while any of its processes
    /// lives (a hung renderer outliving its browser process counts): distinct profile
    /// directories (`--user-data-dir`, one per session) on their command lines.
    public var browserCount: Int {
        var profiles = Set<Substring>()
        for pid in processesInGroup(process.pid) where pid != process.pid {
            guard let line = commandLine(pid), let flag = line.firstRange(of: "--user-data-dir=") else { continue }
            profiles.insert(line[flag.upperBound...].prefix { $0 != " " })
        }
        return profiles.count
    }

    /// SIGKILLs every page renderer of this chromedriver's browsers, as the kernel's OOM killer
    /// would (a renderer that exhausts memory dies the same way); their pids.
    @discardableResult
    public func killRenderers() -> [pid_t] {
        let renderers = processesInGroup(process.pid).filter { pid in
            guard let line = commandLine(pid) else { return false }
            return line.contains("--type=renderer") && !line.contains("--top-chrome-webui")
        }
        for pid in renderers { Glibc.kill(pid, SIGKILL) }
        return renderers
    }
}

/// Starts a server told to bind a port of its own (port 0) and reads the port from the line of
/// its output that names it (the number after `portAfter`; standard error with `onStderr`): no
/// other process can take the port between a choice and the bind, as one found free and handed
/// over can be. The process is ended when it names none within `timeout`.
func launchOnOwnPort(
    _ binary: String, arguments: [String], environment: [String: String]? = nil, onStderr: Bool = false,
    portAfter marker: String, timeout: Duration, name: String
) async throws -> (ChildProcess, UInt16) {
    // A server that exits at once without naming a port (seen once in CI: chromedriver gone
    // after 20 ms, at the end of a full run) is started again, twice at most.
    var exits: [String] = []
    for _ in 1...3 {
        if let started = try await launchOnce(
            binary, arguments: arguments, environment: environment, onStderr: onStderr, portAfter: marker,
            timeout: timeout, name: name, exits: &exits)
        {
            return started
        }
    }
    throw FixtureError("\(name) did not say which port it took (exited: \(exits.joined(separator: ", ")))")
}

private func launchOnce(
    _ binary: String, arguments: [String], environment: [String: String]?, onStderr: Bool,
    portAfter marker: String, timeout: Duration, name: String, exits: inout [String]
) async throws -> (ChildProcess, UInt16)? {
    let said = Mutex<UInt16?>(nil)
    let read = ChildProcess.Output.lines { line in
        guard let r = line.firstRange(of: marker), let port = UInt16(line[r.upperBound...].prefix(while: \.isNumber))
        else { return }
        said.withLock { $0 = $0 ?? port }
    }
    let process = try ChildProcess(
        binary, arguments: arguments, environment: environment, stdout: onStderr ? .null : read,
        stderr: onStderr ? read : .null, name: name)
    _ = await eventually(timeout: timeout) { said.withLock { $0 } != nil || process.exitStatus != nil }
    guard let port = said.withLock({ $0 }) else {
        if let status = process.exitStatus {
            exits.append("\(status)")
            return nil
        }
        await process.terminate(grace: .seconds(2))
        throw FixtureError("\(name) did not say which port it took within \(timeout)")
    }
    return (process, port)
}

/// A process's command line, arguments joined by spaces (Chromium rewrites its helpers' into one).
public func commandLine(_ pid: pid_t) -> String? {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
    return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
public func freePort() throws -> UInt16 { try freeLoopbackPort() }

/// Polls `condition` every 20 ms until it holds or `timeout` passes; true when it held.
/// For awaiting a condition in tests, not for waiting a fixed time.
public func eventually(
    timeout: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return (try? await condition()) == true
}

/// Pids whose process group is `pgid` (from /proc).
public func processesInGroup(_ pgid: pid_t) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    var out: [pid_t] = []
    for entry in entries {
        guard let pid = pid_t(entry),
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { continue }
        // Fields after the command: state ppid pgrp …
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 2, pid_t(fields[2]) == pgid, fields[0] != "Z" { out.append(pid) }
    }
    return out
}
