import Blocking
import WebDriver

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Waits for the WebDriver sidecar: first its TCP port, then `GET /status` until
/// `value.ready` is `true`. Polls every 10 ms so readiness is noticed well within 50 ms; logs
/// each phase once, not each poll.
struct SidecarProbe: Sendable {
    let client: WebDriverClient
    let log: Log
    static let interval: Duration = .milliseconds(10)

    /// Returns when ready; throws `webDriverUnavailable` at the deadline.
    func waitUntilReady(timeout: Duration, quiet: Bool = false) async throws(CrawlerFailure) {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + timeout
        guard let (host, port) = Self.hostAndPort(client.baseURL) else {
            throw CrawlerFailure(.badInput, "WEBDRIVER_URL \(client.baseURL) has no host")
        }
        if !quiet { log.info("waiting for WebDriver at \(client.baseURL) (timeout \(Self.seconds(timeout)))") }
        var lastProblem = "port \(port) never opened"
        var portOpen = false
        var said = Set<String>()
        while clock.now < deadline {
            if Task.isCancelled { break }
            if !portOpen {
                portOpen = await Self.canConnectOffPool(host: host, port: port)
                if portOpen && !quiet { log.info("port \(port) open after \(Self.ms(clock.now - start)) ms") }
            }
            if portOpen {
                do {
                    let status = try await client.status(timeout: .seconds(2))
                    if status.ready {
                        if !quiet { log.info("WebDriver ready after \(Self.ms(clock.now - start)) ms") }
                        return
                    }
                    lastProblem = "/status says not ready: \(status.message)"
                } catch let error as WebDriverError {
                    lastProblem = "/status failed: \(error)"
                    if error.code == .transport { portOpen = await Self.canConnectOffPool(host: host, port: port) }
                } catch {
                    lastProblem = "/status failed: \(error)"
                }
                if !quiet && said.insert(lastProblem.prefix(40).description).inserted && said.count <= 3 {
                    log.info("WebDriver not ready yet (\(lastProblem))")
                }
            }
            try? await Task.sleep(for: Self.interval)
        }
        throw CrawlerFailure(
            .webDriverUnavailable,
            "WebDriver at \(client.baseURL) not ready after \(Self.seconds(timeout)): \(lastProblem)")
    }

    static func ms(_ d: Duration) -> Int64 {
        d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }

    static func seconds(_ d: Duration) -> String {
        let ms = ms(d)
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(Double(ms) / 1000) s"
    }

    static func hostAndPort(_ base: String) -> (String, UInt16)? {
        guard let url = URL(string: base), let host = url.host(), !host.isEmpty else { return nil }
        let port = url.port ?? (url.scheme == "https" ? 443 : 80)
        return (host, UInt16(clamping: port))
    }

    /// `canConnect` on a `ThreadPool` thread: getaddrinfo and poll block for up to 200 ms, which
    /// must not hold a thread of the cooperative pool (STYLE.md, "What we take" 5).
    static func canConnectOffPool(host: String, port: UInt16) async -> Bool {
        await ThreadPool.shared.run { canConnect(host: host, port: port) }
    }

    /// One TCP connect attempt (bounded to 200 ms), closed at once. Blocking.
    static func canConnect(host: String, port: UInt16) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { return false }
        defer { freeaddrinfo(result) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let ai = entry {
            entry = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            if fd < 0 { continue }
            defer { close(fd) }
            if connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return true }
            guard errno == EINPROGRESS else { continue }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&pfd, 1, 200) == 1 else { continue }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err == 0 { return true }
        }
        return false
    }
}
