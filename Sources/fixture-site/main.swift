// fixture-site: serves a directory (the demo site) or the test fixture pages on 127.0.0.1 until
// SIGINT, SIGTERM or SIGHUP, or until its parent exits. The demo script and manual dry runs use it; nothing here reaches the internet.
import Foundation
import TestSupport

let usage = """
    usage: fixture-site [--root DIR] [--port N] [--address 127.X.Y.Z] [--fixtures]

    Serves the files under DIR on http://127.0.0.1:N (N = 0 picks a free port; default 0) and
    prints that base URL on its first line of output. --fixtures adds the test fixture pages
    (/page/N, /slow?ms=…, /status/CODE, …). --address listens on another loopback address
    (127.0.0.2, 127.0.0.3: a second host for per-host politeness). Runs until SIGINT or SIGTERM.
    """

// Stop signals are blocked before any thread starts, so every thread inherits the mask and only
// the main thread's sigwait below takes them. A DispatchSource did not do: on Linux libdispatch
// reads signals from a signalfd on its manager thread, and a signal the kernel delivered to a
// worker thread stayed pending there — SIGTERM was ignored and scripts/demo.sh could not stop
// the site (issue 9, item 10). Dispositions are reset first: a background job of a
// non-interactive shell starts with SIGINT ignored, and sigwait never sees an ignored signal.
var stopSignals = sigset_t()
sigemptyset(&stopSignals)
for sig in [SIGINT, SIGTERM, SIGHUP] {
    signal(sig, SIG_DFL)
    sigaddset(&stopSignals, sig)
}
pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
stopWithParent()

var root: String?
var port: UInt16 = 0
var fixtures = false
var address = "127.0.0.1"
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--help", "-h":
        print(usage)
        exit(0)
    case "--root": root = args.next()
    case "--port":
        guard let v = args.next(), let p = UInt16(v) else {
            FileHandle.standardError.write(Data("fixture-site: --port takes a number from 0 to 65535\n".utf8))
            exit(64)
        }
        port = p
    case "--fixtures": fixtures = true
    case "--address":
        // Loopback only: nothing here is for the network.
        guard let v = args.next(), v.hasPrefix("127."), v.split(separator: ".").count == 4 else {
            FileHandle.standardError.write(Data("fixture-site: --address takes a loopback address (127.X.Y.Z)\n".utf8))
            exit(64)
        }
        address = v
    default:
        FileHandle.standardError.write(Data("fixture-site: unknown argument \(a)\n\(usage)\n".utf8))
        exit(64)
    }
}
if root == nil && !fixtures { fixtures = true }
do {
    let server = try FixtureServer(root: root, port: port, address: address, fixtures: fixtures)
    FileHandle.standardOutput.write(Data((server.baseURL + "\n").utf8))
    var received: Int32 = 0
    sigwait(&stopSignals, &received)
    server.stop()
    exit(0)
} catch {
    FileHandle.standardError.write(Data("fixture-site: \(error)\n".utf8))
    exit(69)
}

/// Asks Linux to send SIGTERM when the parent exits (prctl PR_SET_PDEATHSIG), so a site
/// started by a script that is killed outright does not outlive it. prctl is variadic, which
/// Swift cannot call, so it is looked up and called with its fixed arguments.
func stopWithParent() {
    #if os(Linux)
        typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        let parent = getppid()
        guard let symbol = dlsym(nil, "prctl") else { return }
        let prctl = unsafeBitCast(symbol, to: Prctl.self)
        _ = prctl(1 /* PR_SET_PDEATHSIG */, UInt(SIGTERM), 0, 0, 0)
        // The parent may have gone before the request took effect.
        if getppid() != parent { exit(0) }
    #endif
}
