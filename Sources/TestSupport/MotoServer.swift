import HTTP
import ProcessKit

// Foundation whole: Process and FileHandle (the python probe) are not in FoundationEssentials.
import Foundation

/// moto's server (PyPI `moto[server]`) on a free loopback port: the AWS APIs, with SigV4 and IAM
/// checked after `initialNoAuthActions` calls when that is set. `MOTO_SERVER` overrides the binary.
public final class MotoServer: Sendable {
    public let port: UInt16
    public let process: ChildProcess
    public var url: String { "http://127.0.0.1:\(port)" }

    private init(port: UInt16, process: ChildProcess) {
        self.port = port
        self.process = process
    }

    public static var binary: String? {
        let env = ProcessInfo.processInfo.environment
        if let path = env["MOTO_SERVER"] { return path }
        let dirs = (env["PATH"] ?? "").split(separator: ":").map(String.init) + [(env["HOME"] ?? "") + "/.local/bin"]
        return dirs.map { $0 + "/moto_server" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public static func start(initialNoAuthActions: Int? = nil) async throws -> MotoServer {
        guard let binary else {
            throw FixtureError("moto_server not found: scripts/setup.sh installs it (CRAWLRUN_NEEDS_MOTO=1)")
        }
        var env = ProcessInfo.processInfo.environment
        if let n = initialNoAuthActions { env["INITIAL_NO_AUTH_ACTION_COUNT"] = String(n) }
        // moto checks `If-None-Match` / `If-Match` and then writes, on a threaded server: two
        // writes at once could both pass the check, where S3 lets exactly one win (the other gets
        // 412 PreconditionFailed or 409 ConditionalRequestConflict). Leases rely on that, so the
        // object writes go one at a time here: moto's own server entry point, started by the
        // Python that runs moto_server, with S3's PutObject, POST (CompleteMultipartUpload) and
        // DeleteObject handlers under one lock.
        // https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
        let (command, prefix) =
            await pythonOf(binary).map { ($0, ["-c", serializedConditionalWrites]) } ?? (binary, [])
        // `-p 0`: werkzeug names the port it took (" * Running on http://127.0.0.1:N").
        let (process, port) = try await launchOnOwnPort(
            command, arguments: prefix + ["-H", "127.0.0.1", "-p", "0"], environment: env, onStderr: true,
            portAfter: "Running on http://127.0.0.1:", timeout: .seconds(60), name: "moto_server")
        let server = MotoServer(port: port, process: process)
        let http = CurlHTTPClient(connectTimeout: .milliseconds(200), timeout: .seconds(2))
        let up = await eventually(timeout: .seconds(60)) {
            if process.exitStatus != nil { return true }
            return (try? await http.send(HTTPRequest(url: server.url + "/moto-api/data.json")))?.status == 200
        }
        if let status = process.exitStatus { throw FixtureError("moto_server exited (\(status))") }
        if !up {
            await process.terminate(grace: .seconds(2))
            throw FixtureError("moto_server not answering on port \(port)")
        }
        return server
    }

    /// Checks signatures and permissions on every call from now on (moto's `reset-auth`): the
    /// set-up is then exactly the calls made so far, whatever moto counted among them.
    public func enforceAuthentication() async throws {
        let r = try await CurlHTTPClient().send(
            HTTPRequest(
                method: "POST", url: url + "/moto-api/reset-auth", headers: [("Content-Type", "text/plain")],
                body: Data("0".utf8)))
        guard r.status == 200 else { throw FixtureError("moto reset-auth: HTTP \(r.status)") }
    }

    public func stop() async { await process.terminate(grace: .seconds(3)) }

    /// moto's server with S3's object writes serialized (see `start`).
    static let serializedConditionalWrites = """
        import sys, threading
        from moto.s3 import responses as r
        lock = threading.RLock()
        def serialized(f):
            def g(*a, **k):
                with lock:
                    return f(*a, **k)
            return g
        for name in ("put_object", "_key_response_post", "delete_object"):
            setattr(r.S3Response, name, serialized(getattr(r.S3Response, name)))
        from moto.server import main
        sys.exit(main(sys.argv[1:]))
        """

    /// The Python interpreter that runs a `moto_server` script (its `#!` line, or the pyenv
    /// version's), when it can import moto; nil to start the binary as it is.
    static func pythonOf(_ binary: String) async -> String? {
        var candidates: [String] = []
        if let text = try? String(contentsOfFile: binary, encoding: .utf8), text.hasPrefix("#!") {
            let line = text.prefix { $0 != "\n" }.dropFirst(2).trimmingCharacters(in: .whitespaces)
            if !line.contains(" ") && !line.hasSuffix("bash") && !line.hasSuffix("sh") { candidates.append(line) }
        }
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        candidates += dirs.map { $0 + "/python3" }
        for python in candidates where FileManager.default.isExecutableFile(atPath: python) {
            guard
                let p = try? ChildProcess(
                    python, arguments: ["-c", "import moto.server, moto.s3.responses"], stdout: .null, stderr: .null)
            else { continue }
            if await p.wait(timeout: .seconds(60))?.code == 0 { return python }
        }
        return nil
    }
}
