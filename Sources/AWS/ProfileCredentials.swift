import HTTP

/// A profile's credentials, the way botocore resolves them: `role_arn` (AssumeRole, with the
/// credentials of `source_profile` or `credential_source`, chained), `web_identity_token_file`,
/// IAM Identity Center (`sso_session` or `sso_start_url`), static keys, `credential_process`.
/// A source profile's static keys come before its own `role_arn` (a profile may source itself).
/// https://docs.aws.amazon.com/sdkref/latest/guide/feature-assume-role-credentials.html
/// https://github.com/boto/botocore/blob/develop/botocore/credentials.py (AssumeRoleProvider)
struct ProfileCredentials: Sendable {
    let environment: [String: String]
    let http: any HTTPTransport
    let clock: SigningClock
    let config: SharedConfig

    init(environment: [String: String], http: any HTTPTransport, clock: SigningClock) {
        self.environment = environment
        self.http = http
        self.clock = clock
        config = SharedConfig(environment: environment)
    }

    /// The settings a profile can give credentials with: one of them must be there.
    static let credentialSettings =
        "aws_access_key_id, sso_session or sso_start_url, role_arn, web_identity_token_file or credential_process"

    /// The current profile's credentials. Nil when the default profile, not named by AWS_PROFILE,
    /// does not exist or has none; a named profile that gives none is an error naming it.
    func topLevel() async throws(AWSError) -> AWSCredentials? {
        let profile = config.profile(config.profile)
        guard profile.exists else {
            guard config.profileNamed else { return nil }
            throw AWSError(
                .credentials,
                "profile \(profile.name) (AWS_PROFILE) is in neither \(config.configFile) nor \(config.credentialsFile)"
            )
        }
        if let c = try await resolve(profile, visited: [], topLevel: true) { return c }
        guard config.profileNamed else { return nil }
        throw AWSError(
            .credentials,
            "profile \(profile.name) (AWS_PROFILE) gives no credentials: it has none of \(Self.credentialSettings)")
    }

    func resolve(
        _ p: SharedConfig.Profile, visited: [String], topLevel: Bool
    ) async throws(AWSError) -> AWSCredentials? {
        if !topLevel, let keys = try config.staticKeys(p) { return keys }
        if p["role_arn"] != nil && p["web_identity_token_file"] == nil {
            return try await assumeRole(p, visited: visited)
        }
        if let tokenFile = p["web_identity_token_file"] {
            guard let role = p["role_arn"] else {
                throw AWSError(.credentials, "profile \(p.name) has web_identity_token_file but no role_arn")
            }
            return try await WebIdentityCredentials(
                roleArn: role, tokenFile: tokenFile, sessionName: p["role_session_name"],
                durationSeconds: try durationSeconds(p), region: stsRegion(p), environment: environment, http: http,
                clock: clock, source: "web identity role \(role) (profile \(p.name))"
            ).fetch()
        }
        if topLevel, let web = WebIdentityCredentials.fromEnvironment(environment, http: http, clock: clock) {
            return try await web.fetch()
        }
        if p["sso_session"] != nil || p["sso_start_url"] != nil || p["sso_account_id"] != nil {
            return try await SSOCredentials(profile: p, config: config, environment: environment, http: http)
                .fetch()
        }
        if let keys = try config.staticKeys(p) { return keys }
        if let command = p["credential_process"] {
            return try await CredentialProcess(command: command, profile: p.name).fetch()
        }
        return nil
    }

    /// AssumeRole with the source's credentials, fetched afresh for each refresh (a source that
    /// is itself temporary is never used expired).
    func assumeRole(_ p: SharedConfig.Profile, visited: [String]) async throws(AWSError) -> AWSCredentials {
        let role = p["role_arn"] ?? ""
        let source: AWSCredentials
        switch (p["source_profile"], p["credential_source"]) {
        case (.some, .some):
            throw AWSError(.credentials, "profile \(p.name) has both source_profile and credential_source: keep one")
        case (nil, nil):
            throw AWSError(
                .credentials, "profile \(p.name) has role_arn but neither source_profile nor credential_source")
        case (nil, .some(let named)):
            source = try await credentialSource(named, profile: p.name)
        case (.some(let name), nil):
            if name == p.name {
                guard let keys = try config.staticKeys(p) else {
                    throw AWSError(
                        .credentials, "profile \(p.name) is its own source_profile but has no aws_access_key_id")
                }
                source = keys
            } else {
                guard !visited.contains(name) else {
                    var loop = AWSError(
                        .credentials,
                        "source_profile loop: \((visited + [p.name, name]).joined(separator: " → "))")
                    loop.sourceProfile = name
                    throw loop
                }
                let sourceProfile = config.profile(name)
                guard sourceProfile.exists else {
                    throw AWSError(
                        .credentials,
                        "profile \(p.name) names source_profile \(name), which is not in \(config.configFile)")
                }
                let resolved: AWSCredentials?
                do {
                    resolved = try await resolve(sourceProfile, visited: visited + [p.name], topLevel: false)
                } catch  where error.kind == .credentials && error.sourceProfile == nil {
                    var named = AWSError(
                        .credentials, "source_profile \(name) of profile \(p.name): \(error.message)", code: error.code,
                        httpStatus: error.httpStatus)
                    named.sourceProfile = name
                    throw named
                }
                guard let c = resolved else {
                    var none = AWSError(
                        .credentials,
                        "source_profile \(name) of profile \(p.name) gives no credentials: it has none of \(Self.credentialSettings)"
                    )
                    none.sourceProfile = name
                    throw none
                }
                source = c
            }
        }
        let signer = CredentialChain(provider: StaticCredentials(credentials: source), clock: clock)
        let sts = STSClient(
            region: stsRegion(p), environment: AWSEnvironment(environment), credentials: signer, http: http)
        let request = STSClient.RoleRequest(
            roleArn: role, sessionName: p["role_session_name"] ?? Self.sessionName(clock), externalId: p["external_id"],
            durationSeconds: try durationSeconds(p))
        do {
            return try await sts.assumeRole(request, source: "role \(role) (profile \(p.name), from \(source.source))")
        } catch {
            throw AWSError(
                .credentials, "profile \(p.name): AssumeRole \(role) failed: \(error.message)", code: error.code,
                httpStatus: error.httpStatus)
        }
    }

    /// `credential_source`: Environment, Ec2InstanceMetadata or EcsContainer.
    func credentialSource(_ name: String, profile: String) async throws(AWSError) -> AWSCredentials {
        switch name {
        case "Environment":
            guard let id = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"] else {
                throw AWSError(
                    .credentials,
                    "profile \(profile) has credential_source Environment but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set"
                )
            }
            return AWSCredentials(
                accessKeyId: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"],
                source: "environment")
        case "Ec2InstanceMetadata":
            return try await InstanceMetadataCredentials(environment: environment, http: http).fetch()
        case "EcsContainer":
            guard let container = ContainerCredentials(environment: environment, http: http) else {
                throw AWSError(
                    .credentials,
                    "profile \(profile) has credential_source EcsContainer but AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI are not set"
                )
            }
            return try await container.fetch()
        default:
            throw AWSError(
                .credentials,
                "profile \(profile) has credential_source \(name): use Environment, Ec2InstanceMetadata or EcsContainer"
            )
        }
    }

    func durationSeconds(_ p: SharedConfig.Profile) throws(AWSError) -> Int? {
        guard let text = p["duration_seconds"] else { return nil }
        guard let seconds = Int(text), seconds > 0 else {
            throw AWSError(.credentials, "profile \(p.name): duration_seconds \"\(text)\" is not a number of seconds")
        }
        return seconds
    }

    /// STS in the run's Region (AWS_REGION, the current profile), else this profile's, else us-east-1.
    func stsRegion(_ p: SharedConfig.Profile) -> String {
        AWSEnvironment(environment).region(fallback: p.config?["region"]) ?? "us-east-1"
    }

    static func sessionName(_ clock: SigningClock) -> String { "crawlrun-\(Int(clock.now()))" }
}

/// Credentials known already (a source profile's keys, to sign AssumeRole with).
struct StaticCredentials: CredentialProvider {
    let credentials: AWSCredentials
    func fetch() async throws(AWSError) -> AWSCredentials { credentials }
}
