import CrawlKit

/// How a task's browser reaches pages served on this machine's loopback (a site under test, the
/// demo site on 127.0.0.1:8080).
///
/// Inside a task `127.0.0.1` is the task's own localhost, as on Fargate: the sidecar's 4444 lives
/// there. A job written for pages on the coordinator's machine would crawl nothing. So when a
/// batch holds URLs on `127.0.0.1`, `localhost` or `[::1]` (and `crawl.allowPrivateNetworks` lets
/// the crawler go there), the docker backend
///
/// - puts the sidecar on a network with an alias for the host's loopback: podman's slirp4netns
///   with `allow_host_loopback` (the alias `10.0.2.2`), or on Docker the default bridge with
///   `host.docker.internal` → `host-gateway` (which reaches the host's bridge address, so the site
///   must listen there, not on 127.0.0.1 alone: Docker has no alias for the host's loopback);
/// - tells Chromium to resolve those three hosts to the alias (`--host-resolver-rules`, added to
///   the batch's `browserArgs`).
///
/// The URLs themselves are never rewritten: the crawler's network policy judges the URL as
/// written, records keep it (and `finalUrl`, and absolute links in fields) exactly as a local
/// run reports them, and only the browser's connections go to the alias.
/// https://chromium.googlesource.com/chromium/src/+/main/net/dns/mapped_host_resolver.h
public struct HostLoopback: Sendable, Equatable {
    /// What the host's loopback is called inside the task.
    public var alias: String

    public init(alias: String) { self.alias = alias }

    /// slirp4netns' fixed address for the host's 127.0.0.1.
    public static let podman = HostLoopback(alias: "10.0.2.2")
    /// Docker's name for the host (`ExtraHosts: host.docker.internal:host-gateway`).
    public static let docker = HostLoopback(alias: "host.docker.internal")

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
