import HTTP
import JSONKit
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// An access key, with its session token and expiry when temporary. `description` never shows
/// the secret or the token: only the source and the key id's last four characters.
public struct AWSCredentials: Sendable, CustomStringConvertible {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// Seconds since the epoch; nil for long-term keys.
    public var expiration: Double?
    /// Where they came from: "environment", "profile default (~/.aws/credentials)", "ECS container", …
    public var source: String

    public init(
        accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Double? = nil,
        source: String
    ) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    public var description: String { "\(source), key …\(accessKeyId.suffix(4))" }
}

/// Finds credentials in the SDKs' order (ECS-NOTES.md): environment, shared credentials and
/// config files (profile), ECS container credentials, EC2 IMDSv2. Temporary credentials are
/// refreshed five minutes before they expire.
/// https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html
///
/// Refresh is single-flight, as soto-core's credential provider does it: the first caller that
/// finds no valid credentials starts one fetch, and every caller arriving while it runs waits for
/// that fetch's result, so N concurrent calls make one request to IMDS or the container endpoint.
/// The fetch runs in its own task: cancelling the caller that started it does not fail the others.
public actor CredentialChain {
    let environment: [String: String]
    let http: any HTTPTransport
    private var cached: AWSCredentials?
    private var refreshing: Task<Result<AWSCredentials, AWSError>, Never>?
    /// Fetches started (each is one pass down the chain): what the tests observe.
    private(set) var fetches = 0

    public init(environment: [String: String], http: any HTTPTransport) {
        self.environment = environment
        self.http = http
    }

    public func credentials() async throws(AWSError) -> AWSCredentials {
        if let c = cached, c.expiration.map({ $0 - 300 > Self.now() }) ?? true { return c }
        let fetch: Task<Result<AWSCredentials, AWSError>, Never>
        if let refreshing {
            fetch = refreshing
        } else {
            fetches += 1
            fetch = Task { await self.refresh() }
            refreshing = fetch
        }
        return try await fetch.value.get()
    }

    /// One pass down the chain. A failed refresh of credentials that have not expired yet (only
    /// their five-minute margin has) keeps the old ones: the next call tries again.
    private func refresh() async -> Result<AWSCredentials, AWSError> {
        defer { refreshing = nil }
        do {
            let fresh = try await resolve()
            cached = fresh
            return .success(fresh)
        } catch {
            if let c = cached, let expiry = c.expiration, expiry > Self.now() { return .success(c) }
            return .failure(error)
        }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec)
    }

    private func resolve() async throws(AWSError) -> AWSCredentials {
        if let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty {
            guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
                throw AWSError(.credentials, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
            }
            return AWSCredentials(
                accessKeyId: id, secretAccessKey: secret,
                sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }, source: "environment")
        }
        if let fromFiles = try SharedConfig(environment: environment).credentials() { return fromFiles }
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            return try await container(url: "http://169.254.170.2" + relative, token: nil)
        }
        if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty {
            var token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
            if let file = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"],
                let data = FileManager.default.contents(atPath: file)
            {
                token = String(decoding: data, as: UTF8.self).trimmingWhitespace().description
            }
            return try await container(url: full, token: token)
        }
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() != "true", let imds = try? await instanceMetadata() {
            return imds
        }
        throw AWSError(
            .credentials,
            "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials, or run where ECS or EC2 provides them"
        )
    }

    /// ECS task role credentials.
    /// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
    private func container(url: String, token: String?) async throws(AWSError) -> AWSCredentials {
        var request = HTTPRequest(url: url, timeout: .seconds(5))
        if let token { request.headers.append(("Authorization", token)) }
        let json = try await fetchJSON(request, what: "ECS container credentials")
        return try Self.parseTemporary(json, source: "ECS container credentials")
    }

    /// EC2 instance role through IMDSv2: a session token first, then the role's credentials.
    /// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
    private func instanceMetadata() async throws(AWSError) -> AWSCredentials {
        let base = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254"
        var tokenRequest = HTTPRequest(
            method: "PUT", url: base + "/latest/api/token", headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")]
        )
        tokenRequest.connectTimeout = .seconds(1)
        tokenRequest.timeout = .seconds(2)
        let token: String
        do {
            let r = try await http.send(tokenRequest)
            guard r.status == 200 else { throw AWSError(.credentials, "IMDSv2 token: HTTP \(r.status)") }
            token = String(decoding: r.body, as: UTF8.self)
        } catch let e as AWSError {
            throw e
        } catch {
            throw AWSError(.credentials, "no EC2 instance metadata service", cause: "\(error)")
        }
        let path = base + "/latest/meta-data/iam/security-credentials/"
        var roleRequest = HTTPRequest(url: path, headers: [("X-aws-ec2-metadata-token", token)])
        roleRequest.timeout = .seconds(2)
        guard let r = try? await http.send(roleRequest), r.status == 200,
            let role = String(decoding: r.body, as: UTF8.self).split(separator: "\n").first
        else { throw AWSError(.credentials, "the EC2 instance has no IAM role") }
        var credRequest = HTTPRequest(url: path + role, headers: [("X-aws-ec2-metadata-token", token)])
        credRequest.timeout = .seconds(2)
        let json = try await fetchJSON(credRequest, what: "EC2 instance role credentials")
        return try Self.parseTemporary(json, source: "EC2 instance role \(role)")
    }

    private func fetchJSON(_ request: HTTPRequest, what: String) async throws(AWSError) -> JSONValue {
        let response: HTTPResponse
        do {
            response = try await http.send(request)
        } catch {
            if error is CancellationError || (error as? HTTPError)?.code == .cancelled {
                throw AWSError.cancelled("fetching \(what)")
            }
            throw AWSError(.credentials, "cannot fetch \(what)", cause: "\(error)")
        }
        guard response.status == 200, let json = try? JSONValue.decode(response.body) else {
            throw AWSError(.credentials, "cannot fetch \(what): HTTP \(response.status)")
        }
        return json
    }

    static func parseTemporary(_ json: JSONValue, source: String) throws(AWSError) -> AWSCredentials {
        guard let id = json["AccessKeyId"]?.stringValue, let secret = json["SecretAccessKey"]?.stringValue else {
            throw AWSError(.credentials, "\(source): the answer holds no AccessKeyId/SecretAccessKey")
        }
        return AWSCredentials(
            accessKeyId: id, secretAccessKey: secret, sessionToken: json["Token"]?.stringValue,
            expiration: json["Expiration"]?.stringValue.flatMap(parseISO8601), source: source)
    }
}

/// `2026-11-21T12:00:00Z` (fractions allowed) → seconds since the epoch.
func parseISO8601(_ s: String) -> Double? {
    let digits = s.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
    guard digits.count >= 6 else { return nil }
    var t = tm()
    t.tm_year = Int32(digits[0] - 1900)
    t.tm_mon = Int32(digits[1] - 1)
    t.tm_mday = Int32(digits[2])
    t.tm_hour = Int32(digits[3])
    t.tm_min = Int32(digits[4])
    t.tm_sec = Int32(digits[5])
    return Double(timegm(&t))
}

/// The shared credentials and config files (`~/.aws/credentials`, `~/.aws/config`): INI sections,
/// `[profile NAME]` in the config file. https://docs.aws.amazon.com/sdkref/latest/guide/file-format.html
public struct SharedConfig: Sendable {
    public var profile: String
    var credentialsFile: String
    var configFile: String

    public init(environment: [String: String]) {
        let home = environment["HOME"] ?? "/root"
        profile = environment["AWS_PROFILE"] ?? environment["AWS_DEFAULT_PROFILE"] ?? "default"
        credentialsFile = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        configFile = environment["AWS_CONFIG_FILE"] ?? home + "/.aws/config"
    }

    static func parse(_ path: String) -> [String: [String: String]] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        var sections: [String: [String: String]] = [:]
        var current: String?
        for raw in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = String(line.dropFirst().dropLast().trimmingWhitespace())
            } else if let current, let eq = line.firstIndex(of: "=") {
                sections[current, default: [:]][String(line[..<eq].trimmingWhitespace()).lowercased()] =
                    String(line[line.index(after: eq)...].trimmingWhitespace())
            }
        }
        return sections
    }

    /// The profile's keys from the credentials file, else from the config file.
    public func credentials() throws(AWSError) -> AWSCredentials? {
        let fromCredentials = Self.parse(credentialsFile)[profile]
        let fromConfig = Self.parse(configFile)[profile == "default" ? "default" : "profile \(profile)"]
        for (section, file) in [(fromCredentials, credentialsFile), (fromConfig, configFile)] {
            guard let section, let id = section["aws_access_key_id"] else { continue }
            guard let secret = section["aws_secret_access_key"] else {
                throw AWSError(
                    .credentials, "profile \(profile) in \(file) has aws_access_key_id but no aws_secret_access_key")
            }
            return AWSCredentials(
                accessKeyId: id, secretAccessKey: secret, sessionToken: section["aws_session_token"],
                source: "profile \(profile) (\(file))")
        }
        return nil
    }

    public func region() -> String? {
        Self.parse(configFile)[profile == "default" ? "default" : "profile \(profile)"]?["region"]
    }
}

/// Region and endpoints, the SDK way: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile;
/// `AWS_ENDPOINT_URL_<SERVICE>` or `AWS_ENDPOINT_URL` override the endpoint (moto, LocalStack).
public struct AWSEnvironment: Sendable {
    public var variables: [String: String]
    public init(_ variables: [String: String]) { self.variables = variables }

    public func region(fallback: String? = nil) -> String? {
        variables["AWS_REGION"] ?? variables["AWS_DEFAULT_REGION"] ?? SharedConfig(environment: variables).region()
            ?? fallback
    }

    /// `service`: the SDK's service id in upper snake case (ECS, CLOUDWATCH_LOGS, S3).
    public func endpoint(service: String, host: String) -> (url: String, overridden: Bool) {
        if let url = variables["AWS_ENDPOINT_URL_\(service)"] ?? variables["AWS_ENDPOINT_URL"], !url.isEmpty {
            return (url.hasSuffix("/") ? String(url.dropLast()) : url, true)
        }
        return ("https://" + host, false)
    }
}
