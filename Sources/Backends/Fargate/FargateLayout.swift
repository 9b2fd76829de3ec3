import Coordinator
import CrawlKit

/// Where a Fargate run keeps its files on S3:
/// `s3://BUCKET/<fargate.prefix><job name>/runs/<run-id>/batches/<batch>[.aN].json` and the
/// matching `results/<batch>[.aN].jsonl` — the run directory's names (`RunLayout`) under the
/// job's prefix, which is what both IAM policies are scoped to.
public enum FargateLayout {
    public static func runPrefix(_ job: Job, run: String) -> String { IAMPolicy.jobPrefix(job) + "runs/\(run)/" }

    public static func locations(job: Job, run: String, batch: String, attempt: Int) -> TaskLocations {
        let root = "s3://\(job.fargate.bucket ?? "BUCKET")/\(runPrefix(job, run: run))"
        return TaskLocations(
            batch: root + RunLayout.batchName(batch, attempt: attempt),
            out: root + RunLayout.resultsName(batch, attempt: attempt))
    }
}
