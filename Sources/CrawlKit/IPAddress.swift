#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An IPv4 or IPv6 address as bytes (IPv4-mapped IPv6 addresses are treated as IPv4).
public struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    public let bytes: [UInt8]
    public static let loopbackV4 = IPAddress(bytes: [127, 0, 0, 1])

    public init(bytes: [UInt8]) {
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

    public init?(sockaddr: UnsafeMutablePointer<sockaddr>?) {
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

    public enum Category: Sendable { case linkLocal, loopback, privateNetwork, unspecified, global }

    public var category: Category {
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

extension IPAddress {
    /// The category of a URL's host when it says so by itself — an address literal (`[::1]`
    /// too) or `localhost` — without resolving a name; nil for other names. `crawlrun plan`
    /// warns with it before a run whose URLs the crawler's network policy would refuse.
    public static func literalCategory(host rawHost: String) -> Category? {
        var host = rawHost.lowercased()
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host.hasSuffix(".localhost") { return .loopback }
        return IPAddress(host)?.category
    }
}
