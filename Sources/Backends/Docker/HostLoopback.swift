import CrawlKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How a task's browser reaches pages served on this machine's loopback (a site under test, the
/// demo site on 127.0.0.1:8080).
///
/// Inside a task `127.0.0.1` is the task's own localhost, as on Fargate: the sidecar's 4444 lives
/// there. A job written for pages on the coordinator's machine would crawl nothing. So when a
/// batch holds URLs on `127.0.0.1`, `localhost` or `[::1]` (and `crawl.allowPrivateNetworks` lets
/// the crawler go there), the docker backend gives the task an address for the host's loopback
/// (the alias), as each engine allows:
///
/// - **podman**: the sidecar on slirp4netns with `allow_host_loopback`, whose fixed address
///   `10.0.2.2` is the host's 127.0.0.1.
/// - **Docker Engine**: no such alias exists (a container reaches the host only at a bridge's
///   gateway, where a server on 127.0.0.1 does not listen). The sidecar joins the run's own
///   internal network (`network`), and `crawler relay` containers listen on its gateway address,
///   one per loopback port the run's URLs name, and forward to 127.0.0.1 on that port
///   (`DockerBackend+Loopback`). The alias is that gateway address.
/// - **Docker Desktop**: `host.docker.internal` (`ExtraHosts: host-gateway`), which Desktop
///   forwards to the host's loopback itself.
///
/// Chromium is told to resolve those three hosts to the alias (`--host-resolver-rules`, added to
/// the batch's `browserArgs`). The URLs themselves are never rewritten: the crawler's network
/// policy judges the URL as written, records keep it (and `finalUrl`, and absolute links in
/// fields) exactly as a local run reports them, and only the browser's connections go to the alias.
/// https://chromium.googlesource.com/chromium/src/+/main/net/dns/mapped_host_resolver.h
public struct HostLoopback: Sendable, Equatable {
    /// What the host's loopback is called inside the task.
    public var alias: String
    /// Docker Engine: the run's network the sidecar joins (the alias is its gateway).
    public var network: String?

    public init(alias: String, network: String? = nil) {
        self.alias = alias
        self.network = network
    }

    /// slirp4netns' fixed address for the host's 127.0.0.1.
    public static let podman = HostLoopback(alias: "10.0.2.2")
    /// Docker Desktop's name for the host (`ExtraHosts: host.docker.internal:host-gateway`).
    public static let desktop = HostLoopback(alias: "host.docker.internal")

    /// The hosts that mean "this machine" in a job (lower case; IPv6 without brackets).
    static let loopbackHosts: Set<String> = ["127.0.0.1", "localhost", "::1"]

    /// Whether a URL names this machine's loopback.
    public static func isLoopback(_ url: String) -> Bool {
        guard case .success(let parsed) = URLNormalizer().normalize(url) else { return false }
        var host = parsed.host
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return loopbackHosts.contains(host)
    }

    /// Whether a task of this batch needs the alias: a loopback URL the crawler may visit, in a
    /// browser that takes the resolver rules.
    public static func isNeeded(by batch: BatchFile) -> Bool {
        batch.crawl.allowPrivateNetworks && batch.crawl.isChromeFamily
            && batch.urls.contains(where: isLoopback)
    }

    /// The TCP ports of a batch's loopback URLs (80 and 443 when a URL names none), in order.
    public static func ports(of batch: BatchFile) -> [UInt16] {
        var out: [UInt16] = []
        for url in batch.urls where isLoopback(url) {
            guard let c = URLComponents(string: url) else { continue }
            let port = c.port.flatMap { UInt16(exactly: $0) } ?? (c.scheme?.lowercased() == "https" ? 443 : 80)
            if !out.contains(port) { out.append(port) }
        }
        return out
    }

    /// `MAP 127.0.0.1 ALIAS, MAP localhost ALIAS, MAP ::1 ALIAS`: ports and paths are kept.
    public var resolverRules: String {
        Self.loopbackHosts.sorted().map { "MAP \($0) \(alias)" }.joined(separator: ", ")
    }

    static let rulesSwitch = "--host-resolver-rules="

    /// The batch as the task's crawler reads it: the browser arguments (the crawler's defaults
    /// when the job gives none) with the resolver rules added in front of any the job has.
    public func applied(to batch: BatchFile) -> BatchFile {
        var out = batch
        var args = batch.crawl.browserArgs ?? CrawlOptions.defaultChromeArgs
        if let i = args.firstIndex(where: { $0.hasPrefix(Self.rulesSwitch) }) {
            let theirs = args[i].dropFirst(Self.rulesSwitch.count)
            // Applied once: a batch written for an earlier try of this launch already has them.
            if theirs.hasPrefix(resolverRules) { return batch }
            args[i] = Self.rulesSwitch + resolverRules + ", " + theirs
        } else {
            args.append(Self.rulesSwitch + resolverRules)
        }
        out.crawl.browserArgs = args
        return out
    }
}
