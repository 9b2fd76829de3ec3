import HTTP

/// AWS STS, the three calls credentials need: AssumeRole (a profile's `role_arn`, signed with
/// the source profile's credentials), AssumeRoleWithWebIdentity (unsigned: the web identity token
/// is the proof) and GetCallerIdentity (`doctor`: who the credentials are). Query protocol, API
/// version 2011-06-15, SigV4 service `sts`, the Region's endpoint (`AWS_ENDPOINT_URL_STS` overrides).
/// https://docs.aws.amazon.com/STS/latest/APIReference/welcome.html
public struct STSClient: Sendable {
    let client: QueryProtocolClient

    /// `credentials` nil: only AssumeRoleWithWebIdentity can be called.
    public init(region: String, environment: AWSEnvironment, credentials: CredentialChain?, http: any HTTPTransport) {
        let endpoint = environment.endpoint(service: "STS", host: "sts.\(region).amazonaws.com").url
        var client = QueryProtocolClient(
            service: "sts", version: "2011-06-15", region: region, endpoint: endpoint, credentials: credentials,
            http: http, bucket: TokenBucket(capacity: 50, refillPerSecond: 10))
        // An answer already refused (a trust policy, a bad token) will not change: fail quickly.
        client.retry.maxAttempts = 3
        self.client = client
    }

    /// Who signs: the identity's ARN, user id and account, and how far this machine's clock is
    /// from AWS's by the answer's `Date` (whole seconds; nil without one).
    public struct Identity: Sendable {
        public var arn: String
        public var userId: String
        public var account: String
        public var clockOffset: Double?
    }

    /// https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
    public func getCallerIdentity() async throws(AWSError) -> Identity {
        let body = SigV4.encodeQuery([("Action", "GetCallerIdentity"), ("Version", client.version)])
        let response = try await client.endpointClient.post(
            "GetCallerIdentity", headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
            body: Array(body.utf8), retry: client.retry)
        guard let root = XMLNode.parse(response.body), let arn = root.first("Arn") else {
            throw AWSError(.invalidResponse, "sts GetCallerIdentity answered without an Arn")
        }
        return Identity(
            arn: arn, userId: root.first("UserId") ?? "", account: root.first("Account") ?? "",
            clockOffset: SigningClock.offset(of: response))
    }

    /// The parameters of AssumeRole that a profile can set.
    public struct RoleRequest: Sendable {
        public var roleArn: String
        public var sessionName: String
        public var externalId: String?
        public var durationSeconds: Int?
    }

    /// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
    func assumeRole(_ r: RoleRequest, source: String) async throws(AWSError) -> AWSCredentials {
        var parameters = [("RoleArn", r.roleArn), ("RoleSessionName", r.sessionName)]
        if let id = r.externalId { parameters.append(("ExternalId", id)) }
        if let d = r.durationSeconds { parameters.append(("DurationSeconds", String(d))) }
        return try Self.credentials(in: try await client.call("AssumeRole", parameters), source: source)
    }

    /// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
    func assumeRoleWithWebIdentity(
        _ r: RoleRequest, token: String, source: String
    ) async throws(AWSError) -> AWSCredentials {
        var parameters = [("RoleArn", r.roleArn), ("RoleSessionName", r.sessionName), ("WebIdentityToken", token)]
        if let d = r.durationSeconds { parameters.append(("DurationSeconds", String(d))) }
        return try Self.credentials(
            in: try await client.call("AssumeRoleWithWebIdentity", parameters), source: source)
    }

    /// `<Credentials><AccessKeyId/><SecretAccessKey/><SessionToken/><Expiration/></Credentials>`.
    static func credentials(in root: XMLNode, source: String) throws(AWSError) -> AWSCredentials {
        guard let id = root.first("AccessKeyId"), let secret = root.first("SecretAccessKey"),
            let token = root.first("SessionToken"), let expiration = root.first("Expiration").flatMap(parseISO8601)
        else { throw AWSError(.invalidResponse, "\(source): STS answered without credentials") }
        return AWSCredentials(
            accessKeyId: id, secretAccessKey: secret, sessionToken: token, expiration: expiration, source: source)
    }
}
