import HTTP

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A role assumed with a web identity token (EKS IRSA, GitHub Actions OIDC): the token file is
/// read on every fetch (it is rotated), then STS AssumeRoleWithWebIdentity, unsigned. From a
/// profile (`web_identity_token_file`, `role_arn`, `role_session_name`) or the environment
/// (`AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`, `AWS_ROLE_SESSION_NAME`).
/// https://docs.aws.amazon.com/sdkref/latest/guide/feature-assume-role-credentials.html
struct WebIdentityCredentials: CredentialProvider {
    let roleArn: String
    let tokenFile: String
    let sessionName: String?
    let durationSeconds: Int?
    let region: String
    let environment: [String: String]
    let http: any HTTPTransport
    let clock: SigningClock
    let source: String

    /// Nil unless both AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are set.
    static func fromEnvironment(
        _ environment: [String: String], http: any HTTPTransport, clock: SigningClock
    ) -> WebIdentityCredentials? {
        guard let file = environment["AWS_WEB_IDENTITY_TOKEN_FILE"], !file.isEmpty,
            let role = environment["AWS_ROLE_ARN"], !role.isEmpty
        else { return nil }
        return WebIdentityCredentials(
            roleArn: role, tokenFile: file, sessionName: environment["AWS_ROLE_SESSION_NAME"], durationSeconds: nil,
            region: AWSEnvironment(environment).region() ?? "us-east-1", environment: environment, http: http,
            clock: clock, source: "web identity role \(role) (AWS_WEB_IDENTITY_TOKEN_FILE)")
    }

    func fetch() async throws(AWSError) -> AWSCredentials {
        guard let data = FileManager.default.contents(atPath: tokenFile) else {
            throw AWSError(.credentials, "\(source): cannot read the web identity token file \(tokenFile)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingWhitespace().description
        guard !token.isEmpty else { throw AWSError(.credentials, "\(source): \(tokenFile) is empty") }
        let sts = STSClient(region: region, environment: AWSEnvironment(environment), credentials: nil, http: http)
        let request = STSClient.RoleRequest(
            roleArn: roleArn, sessionName: sessionName ?? ProfileCredentials.sessionName(clock), externalId: nil,
            durationSeconds: durationSeconds)
        do {
            return try await sts.assumeRoleWithWebIdentity(request, token: token, source: source)
        } catch {
            throw AWSError(
                .credentials, "\(source): AssumeRoleWithWebIdentity failed: \(error.message)", code: error.code,
                httpStatus: error.httpStatus)
        }
    }
}
