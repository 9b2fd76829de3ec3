import Coordinator
import Foundation
import Synchronization

/// Standard output. A write to a closed pipe (`crawlrun crawl … | head -1`) fails with EPIPE
/// instead of killing the process (SIGPIPE is ignored), and tells whoever listens: a run then
/// stops its tasks and exits quietly.
enum StandardOutput {
    private static let closedHandler = Mutex<(@Sendable () -> Void)?>(nil)
    private static let closed = Atomic<Bool>(false)

    /// SIGPIPE would end crawlrun without stopping its tasks: take EPIPE as an error instead.
    static func ignoreSIGPIPE() { signal(SIGPIPE, SIG_IGN) }

    static func onClosed(_ handler: (@Sendable () -> Void)?) { closedHandler.withLock { $0 = handler } }

    static var isClosed: Bool { closed.load(ordering: .relaxed) }

    @discardableResult
    static func write(_ bytes: [UInt8]) -> Bool {
        guard !isClosed else { return false }
        if writeAll(1, bytes) { return true }
        if errno == EPIPE, closed.exchange(true, ordering: .relaxed) == false {
            closedHandler.withLock { $0 }?()
        }
        return false
    }

    static func print(_ text: String) { write(Array((text + "\n").utf8)) }
}

enum StandardError {
    static func write(_ text: String) { writeAll(2, Array(text.utf8)) }
}

/// SIGINT, SIGTERM and SIGHUP (a closed terminal) while a run is on: the handler is called once
/// per signal, with its name.
final class SignalWatch {
    static let signals: [(Int32, String)] = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")]
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable (String) -> Void) {
        var sources: [any DispatchSourceSignal] = []
        for (sig, name) in Self.signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { handler(name) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    func cancel() {
        for s in sources { s.cancel() }
        for (sig, _) in Self.signals { signal(sig, SIG_DFL) }
    }
}
