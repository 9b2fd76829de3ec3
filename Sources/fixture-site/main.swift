// fixture-site: serves a directory (the demo site) or the test fixture pages on 127.0.0.1 until
// SIGINT/SIGTERM. The demo script and manual dry runs use it; nothing here reaches the internet.
import Foundation
import TestSupport

let usage = """
    usage: fixture-site [--root DIR] [--port N] [--fixtures]

    Serves the files under DIR on http://127.0.0.1:N (N = 0 picks a free port; default 0) and
    prints that base URL on its first line of output. --fixtures adds the test fixture pages
    (/page/N, /slow?ms=…, /status/CODE, …). Runs until SIGINT or SIGTERM.
    """

var root: String?
var port: UInt16 = 0
var fixtures = false
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
    default:
        FileHandle.standardError.write(Data("fixture-site: unknown argument \(a)\n\(usage)\n".utf8))
        exit(64)
    }
}
if root == nil && !fixtures { fixtures = true }
do {
    let server = try FixtureServer(root: root, port: port, fixtures: fixtures)
    FileHandle.standardOutput.write(Data((server.baseURL + "\n").utf8))
    let stop = DispatchSemaphore(value: 0)
    let sources = [SIGINT, SIGTERM].map { sig in
        signal(sig, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: sig, queue: .main)
        s.setEventHandler { stop.signal() }
        s.resume()
        return s
    }
    _ = sources
    DispatchQueue.global().async {
        stop.wait()
        server.stop()
        exit(0)
    }
    dispatchMain()
} catch {
    FileHandle.standardError.write(Data("fixture-site: \(error)\n".utf8))
    exit(69)
}
