/// Where a crawler whose results go to S3 uploads its own log: beside its results, `.log` for
/// `.jsonl` (`…/runs/<run>/results/<batch>[.aN].log`). The task role may already put objects
/// under `results/` (`crawlrun iam-policy`), so this needs no IAM change; the coordinator reads
/// this one object instead of several CloudWatch Logs calls for a task that ended well
/// (README, "Fargate" → "Logs").
public enum CrawlerLogLocation {
    public static func beside(results location: String) -> String {
        (location.hasSuffix(".jsonl") ? String(location.dropLast(".jsonl".count)) : location) + ".log"
    }
}
