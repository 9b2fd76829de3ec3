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
        } else if IPAddress.literalCategory(host: host) == .loopback {
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
        case .loopback where !allowPrivateNetworks:
            return
                "a loopback address; set crawl.allowPrivateNetworks (crawlrun crawl: --allow-private-networks) to allow it"
        case .privateNetwork where !allowPrivateNetworks:
            return
                "a private address; set crawl.allowPrivateNetworks (crawlrun crawl: --allow-private-networks) to allow it"
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
