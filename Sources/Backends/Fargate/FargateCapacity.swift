import CrawlKit
import JSONKit

/// The job's capacity providers and the cluster's: a strategy may name only providers associated
/// with the cluster ("The specified capacity provider strategy cannot contain a capacity provider
/// that is not associated with the cluster"). FARGATE and FARGATE_SPOT exist in every account but
/// are associated with a cluster only by PutClusterCapacityProviders, which replaces the whole
/// list. Checked by `prepare` (before the first RunTask) and by `crawlrun doctor`.
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html
public enum FargateCapacity {
    /// The providers of the job's strategy the cluster lacks, in the job's order.
    public static func missing(_ job: Job, cluster: JSONValue) -> [String] {
        let associated = Set((cluster["capacityProviders"]?.arrayValue ?? []).compactMap(\.stringValue))
        var seen: Set<String> = []
        return job.fargate.capacityProviders.map(\.provider).filter {
            !associated.contains($0) && seen.insert($0).inserted
        }
    }

    /// The command that associates them, keeping the providers the cluster has.
    public static func fix(_ job: Job, cluster: JSONValue, missing: [String]) -> String {
        let current = (cluster["capacityProviders"]?.arrayValue ?? []).compactMap(\.stringValue)
        let all = current + missing.filter { !current.contains($0) }
        let region = job.fargate.region.map { " --region \($0)" } ?? ""
        return "aws ecs put-cluster-capacity-providers --cluster \(job.fargate.cluster) --capacity-providers "
            + all.joined(separator: " ") + " --default-capacity-provider-strategy capacityProvider=\(all[0]),weight=1"
            + region + " (it replaces the cluster's list: keep the ones it has)"
    }

    /// The problem in words, or nil when every provider of the job's strategy is associated.
    public static func problem(_ job: Job, cluster: JSONValue) -> (message: String, fix: String)? {
        let missing = missing(job, cluster: cluster)
        guard !missing.isEmpty else { return nil }
        return (
            "fargate.capacityProviders names \(missing.joined(separator: " and ")), which the cluster \(job.fargate.cluster) "
                + "does not have associated: every RunTask would be refused",
            fix(job, cluster: cluster, missing: missing)
        )
    }
}
