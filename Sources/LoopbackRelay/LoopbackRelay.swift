import Blocking

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP relay from one address of this machine to its loopback, for the docker backend on
/// Docker Engine (README, "The docker backend"): a task's browser there cannot reach the host's
/// 127.0.0.1, only the gateway address of the run's own network. The relay listens on that
/// address, on each port the run's URLs name, takes connections only from the run's subnet, and
/// forwards each to `127.0.0.1` on the same port. It never dials anything else.
///
/// It runs as `crawler relay …` in a container on the host's network namespace that carries the
/// run's labels, so it lives as long as the run's tasks (through a crawlrun killed and resumed)
/// and goes with them (`shutdown`, `crawlrun stop`).
public struct LoopbackRelay: Sendable {
    public var settings: RelaySettings
    let log: @Sendable (String) -> Void

    public init(settings: RelaySettings, log: @escaping @Sendable (String) -> Void) {
        self.settings = settings
        self.log = log
    }

    /// Binds every port, then serves them on pool threads; returns the listening sockets (the
    /// caller closes them to stop). A port already listened on at that address is left to its
    /// server; any other that cannot be bound fails the whole relay: a task would otherwise find
    /// some of its pages unreachable with no word why.
    public func start() throws(RelayError) -> [Int32] {
        var listeners: [Int32] = []
        for port in settings.ports {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw RelayError("socket: \(Self.errorText())") }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = Self.address(settings.listen, port: port)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if bound != 0 && errno == EADDRINUSE {
                // A server on 0.0.0.0 (or on this address) listens here already: the tasks reach
                // it directly, and there is nothing to relay.
                close(fd)
                log(
                    "relay: \(IPv4.format(settings.listen)):\(port) is listened on already (a server on 0.0.0.0?): left to it"
                )
                continue
            }
            guard bound == 0, listen(fd, 128) == 0 else {
                let why = Self.errorText()
                close(fd)
                for l in listeners { close(l) }
                throw RelayError("cannot listen on \(IPv4.format(settings.listen)):\(port): \(why)")
            }
            listeners.append(fd)
            ThreadPool.shared.submit { [self] in acceptLoop(fd, port: port) }
        }
        log(
            "relay: \(IPv4.format(settings.listen)):{\(settings.ports.map(String.init).joined(separator: ","))} → "
                + "127.0.0.1, for \(settings.allowed)")
        return listeners
    }

    private func acceptLoop(_ listener: Int32, port: UInt16) {
        while true {
            var peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let client = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &length) }
            }
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // the listener was closed
            }
            let from = UInt32(bigEndian: peer.sin_addr.s_addr)
            guard settings.allowed.contains(from) else {
                log("relay: refused a connection from \(IPv4.format(from)) (not in \(settings.allowed))")
                close(client)
                continue
            }
            ThreadPool.shared.submit { Self.forward(client, toLoopbackPort: port) }
        }
    }

    /// Connects to `127.0.0.1:port` and copies both ways until both sides have finished; a
    /// loopback port with nothing listening closes the client's connection at once, as a
    /// refused connection would.
    static func forward(_ client: Int32, toLoopbackPort port: UInt16) {
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = address(IPv4.loopback, port: port)
        let connected =
            upstream >= 0
            && withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            } == 0
        guard connected else {
            if upstream >= 0 { close(upstream) }
            close(client)
            return
        }
        let finished = Countdown(2) {
            close(client)
            close(upstream)
        }
        ThreadPool.shared.submit {
            copy(from: client, to: upstream)
            finished.tick()
        }
        copy(from: upstream, to: client)
        finished.tick()
    }

    /// Copies until end of stream or an error, then half-closes the destination.
    static func copy(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        outer: while true {
            let n = read(source, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            var sent = 0
            while sent < n {
                let w = buffer[sent..<n].withUnsafeBytes { write(destination, $0.baseAddress, n - sent) }
                if w < 0 && errno == EINTR { continue }
                if w <= 0 { break outer }
                sent += w
            }
        }
        shutdown(destination, Int32(SHUT_WR))
        shutdown(source, Int32(SHUT_RD))
    }

    static func address(_ ip: UInt32, port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = ip.bigEndian
        return a
    }

    static func errorText() -> String { String(cString: strerror(errno)) }
}

/// Runs `body` once `tick` has been called `count` times.
final class Countdown: @unchecked Sendable {
    private var left: Int
    private var mutex = pthread_mutex_t()
    private let body: () -> Void

    init(_ count: Int, _ body: @escaping () -> Void) {
        left = count
        self.body = body
        pthread_mutex_init(&mutex, nil)
    }

    func tick() {
        pthread_mutex_lock(&mutex)
        left -= 1
        let last = left == 0
        pthread_mutex_unlock(&mutex)
        if last { body() }
    }
}

public struct RelayError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
