import Blocking
import CrawlKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Which addresses the crawler may visit. Link-local addresses (169.254.0.0/16, fe80::/10) are
/// always refused: 169.254.169.254 is EC2's metadata service and 169.254.170.2 the ECS task
/// credential endpoint — a crawled URL must never read the task role's keys. Loopback,
/// private (RFC 1918, RFC 6598, fc00::/7) and unspecified addresses are refused unless
/// `allowPrivateNetworks`. The browser resolves names itself, so a name that changes its
/// answer between our check and the browser's (DNS rebinding) is caught by the final-URL check
/// only when the final host resolves to a refused address at that moment.
public struct NetworkPolicy: Sendable {
    public var allowPrivateNetworks: Bool
    public init(allowPrivateNetworks: Bool) { self.allowPrivateNetworks = allowPrivateNetworks }

    public enum Verdict: Sendable, Equatable {
        case allowed
        case blocked(String)
        case unresolvable(String)
    }

    /// Checks a host (name or literal) against the policy, resolving names.
    public func check(host rawHost: String) async -> Verdict {
        var host = rawHost
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { return .blocked("empty host") }
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else if host.lowercased() == "localhost" || host.lowercased().hasSuffix(".localhost") {
            addresses = [IPAddress.loopbackV4]
        } else {
            switch await Self.resolve(host) {
            case .success(let list): addresses = list
            case .failure(let failure): return .unresolvable(failure.message)
            }
        }
        for address in addresses {
            if let reason = refusal(address) { return .blocked("\(host) resolves to \(address), \(reason)") }
        }
        return .allowed
    }

    func refusal(_ address: IPAddress) -> String? {
        switch address.category {
        case .linkLocal: return "a link-local address (cloud credential endpoints); always refused"
        case .loopback where !allowPrivateNetworks: return "a loopback address; set allowPrivateNetworks to allow it"
        case .privateNetwork where !allowPrivateNetworks:
            return "a private address; set allowPrivateNetworks to allow it"
        case .unspecified: return "an unspecified address"
        default: return nil
        }
    }

    static func resolve(_ host: String) async -> Result<[IPAddress], ResolveError> {
        await withCheckedContinuation { cont in
            ThreadPool.shared.submit {
                var hints = addrinfo()
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var result: UnsafeMutablePointer<addrinfo>?
                let rc = getaddrinfo(host, nil, &hints, &result)
                guard rc == 0 else {
                    cont.resume(returning: .failure(ResolveError(message: String(cString: gai_strerror(rc)))))
                    return
                }
                var out: [IPAddress] = []
                var entry = result
                while let ai = entry {
                    if let a = IPAddress(sockaddr: ai.pointee.ai_addr) { out.append(a) }
                    entry = ai.pointee.ai_next
                }
                freeaddrinfo(result)
                cont.resume(returning: .success(out))
            }
        }
    }

    struct ResolveError: Error { let message: String }
}

/// An IPv4 or IPv6 address as bytes (IPv4-mapped IPv6 addresses are treated as IPv4).
public struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    public let bytes: [UInt8]
    static let loopbackV4 = IPAddress(bytes: [127, 0, 0, 1])

    init(bytes: [UInt8]) {
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            self.bytes = Array(bytes[12..<16])
        } else {
            self.bytes = bytes
        }
    }

    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v6) { Array($0) })
            return
        }
        return nil
    }

    init?(sockaddr: UnsafeMutablePointer<sockaddr>?) {
        guard let sa = sockaddr else { return nil }
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            let raw = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            self.init(bytes: withUnsafeBytes(of: raw) { Array($0) })
        case AF_INET6:
            let raw = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            self.init(bytes: withUnsafeBytes(of: raw) { Array($0) })
        default: return nil
        }
    }

    enum Category { case linkLocal, loopback, privateNetwork, unspecified, global }

    var category: Category {
        let b = bytes
        if b.count == 4 {
            switch (b[0], b[1]) {
            case (169, 254): return .linkLocal
            case (127, _): return .loopback
            case (0, _): return .unspecified
            case (10, _), (192, 168): return .privateNetwork
            case (172, 16...31): return .privateNetwork
            case (100, 64...127): return .privateNetwork  // RFC 6598 shared address space
            default: return .global
            }
        }
        if b.allSatisfy({ $0 == 0 }) { return .unspecified }
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return .loopback }
        if b[0] == 0xfe && (b[1] & 0xc0) == 0x80 { return .linkLocal }
        // fd00:ec2::/32 holds EC2's IPv6 metadata and credential endpoints (fd00:ec2::254,
        // fd00:ec2::23): refused like link-local, even where private networks are allowed.
        if b[0] == 0xfd && b[1] == 0x00 && b[2] == 0x0e && b[3] == 0xc2 { return .linkLocal }
        if (b[0] & 0xfe) == 0xfc { return .privateNetwork }
        return .global
    }

    public var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        var parts: [String] = []
        for i in stride(from: 0, to: 16, by: 2) {
            parts.append(String(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]), radix: 16))
        }
        return parts.joined(separator: ":")
    }
}
