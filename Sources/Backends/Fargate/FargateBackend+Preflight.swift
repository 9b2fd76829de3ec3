import AWS
import Coordinator

extension FargateBackend {
    /// The fix `crawlrun doctor` gives for missing credentials, word for word.
    static let credentialsFix =
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials"

    /// Credentials first: without them every AWS call fails, and a run started anyway would
    /// leave a run directory of `incomplete` records saying so. Only resolved here (the
    /// environment, the shared files, a container or instance endpoint), not yet checked by AWS:
    /// `crawlrun doctor JOB` does that.
    public func preflight() async throws(RunFailure) {
        do {
            _ = try await aws.credentials.credentials()
        } catch {
            throw RunFailure(
                "the fargate backend needs AWS credentials: \(error.message)",
                cause: "fix: \(Self.credentialsFix) (crawlrun doctor JOB checks the whole set-up)")
        }
    }
}
