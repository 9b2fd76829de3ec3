import AWS

extension Doctor {
    /// The credentials' source and who they are (STS GetCallerIdentity: the ARN, so nobody runs
    /// as the wrong role), and this machine's clock when it is off AWS's by the answer's `Date`.
    /// False when no credentials resolve (every later check is skipped).
    /// https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
    mutating func checkCredentials(_ aws: AWSServices) async -> Bool {
        let credentials: AWSCredentials
        do {
            credentials = try await aws.credentials.credentials()
        } catch {
            fail(
                "credentials", error.message,
                hint:
                    "set AWS_PROFILE (keys, `aws sso login`, role_arn or credential_process), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (README, \"Credentials\")"
            )
            return false
        }
        do {
            let identity = try await aws.sts.getCallerIdentity()
            pass("credentials", "\(credentials.description) as \(identity.arn)")
            if let offset = identity.clockOffset, abs(offset) > 5 {
                output(
                    "  clock: this machine's clock is \(Int(abs(offset))) s off (\(offset > 0 ? "behind" : "ahead of") AWS's); calls are signed with AWS's time"
                )
            }
        } catch {
            fail(
                "credentials", "\(credentials.description): STS GetCallerIdentity refused them: \(error.description)",
                hint: "check the profile or keys in use (`aws sts get-caller-identity` shows who they are)")
        }
        return true
    }
}
