import HTTP
import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The SDKs' default chain, in botocore's order: environment keys; the profile (a role, web
/// identity, IAM Identity Center, static keys, `credential_process`: `ProfileCredentials`);
/// `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`; ECS container credentials; EC2 IMDSv2.
/// A profile named by AWS_PROFILE that gives no credentials is an error, never a fall-through.
/// https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html
/// https://github.com/boto/botocore/blob/develop/botocore/credentials.py (create_credential_resolver)
struct DefaultCredentialProvider: CredentialProvider {
    let environment: [String: String]
    let http: any HTTPTransport
    let clock: SigningClock

    func fetch() async throws(AWSError) -> AWSCredentials {
        if let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty {
            guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
                throw AWSError(.credentials, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
            }
            return AWSCredentials(
                accessKeyId: id, secretAccessKey: secret,
                sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }, source: "environment")
        }
        let profiles = ProfileCredentials(environment: environment, http: http, clock: clock)
        if let fromProfile = try await profiles.topLevel() { return fromProfile }
        if let webIdentity = WebIdentityCredentials.fromEnvironment(environment, http: http, clock: clock) {
            return try await webIdentity.fetch()
        }
        if let container = ContainerCredentials(environment: environment, http: http) {
            return try await container.fetch()
        }
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() != "true",
            let imds = try? await InstanceMetadataCredentials(environment: environment, http: http).fetch()
        {
            return imds
        }
        throw AWSError(
            .credentials,
            "no AWS credentials found: set AWS_PROFILE (keys, `aws sso login`, a role, credential_process), or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where ECS or EC2 provides them"
        )
    }
}

/// ECS task role credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on 169.254.170.2, or
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)`. As botocore
/// does, a full URI must name a loopback address or the ECS / EKS agent's (169.254.170.2,
/// 169.254.170.23, fd00:ec2::23), whatever its scheme: the authorization token is never sent
/// anywhere else (the Java and Rust SDKs also accept any https URL; the stricter rule is kept).
/// https://github.com/boto/botocore/blob/develop/botocore/utils.py (ContainerMetadataFetcher)
/// https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html
/// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
struct ContainerCredentials: CredentialProvider {
    let url: String
    let environment: [String: String]
    let http: any HTTPTransport
    static let agentHosts: Set<String> = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost"]

    /// Nil when neither variable is set.
    init?(environment: [String: String], http: any HTTPTransport) {
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            url = "http://169.254.170.2" + relative
        } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty {
            url = full
        } else {
            return nil
        }
        self.environment = environment
        self.http = http
    }

    func fetch() async throws(AWSError) -> AWSCredentials {
        let host = Self.host(of: url)
        guard Self.agentHosts.contains(host) || Self.isLoopback(host) else {
            throw AWSError(
                .credentials,
                "AWS_CONTAINER_CREDENTIALS_FULL_URI names host \(host): only a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23 is used for container credentials"
            )
        }
        var request = HTTPRequest(url: url, timeout: .seconds(5))
        var token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        if let file = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw AWSError(.credentials, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(file)")
            }
            token = String(decoding: data, as: UTF8.self).trimmingWhitespace().description
        }
        if let token { request.headers.append(("Authorization", token)) }
        let json = try await fetchCredentialJSON(request, what: "ECS container credentials", http: http)
        return try parseTemporaryCredentials(json, source: "ECS container credentials")
    }

    /// The host of `scheme://[user@]host[:port]/…`, IPv6 without its brackets, lower case.
    static func host(of url: String) -> String {
        var rest = Substring(url)
        if let r = rest.firstRange(of: "://") { rest = rest[r.upperBound...] }
        rest = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            return rest[rest.index(after: rest.startIndex)..<close].lowercased()
        }
        return String(rest.prefix { $0 != ":" }).lowercased()
    }

    /// 127.0.0.0/8 and ::1.
    static func isLoopback(_ host: String) -> Bool {
        if host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { UInt8($0) != nil } && octets[0] == "127"
    }
}

/// EC2 instance role through IMDSv2: a session token first, then the role's credentials.
/// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
struct InstanceMetadataCredentials: CredentialProvider {
    let environment: [String: String]
    let http: any HTTPTransport

    func fetch() async throws(AWSError) -> AWSCredentials {
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
        let json = try await fetchCredentialJSON(credRequest, what: "EC2 instance role credentials", http: http)
        return try parseTemporaryCredentials(json, source: "EC2 instance role \(role)")
    }
}

func fetchCredentialJSON(
    _ request: HTTPRequest, what: String, http: any HTTPTransport
) async throws(AWSError) -> JSONValue {
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

/// `{"AccessKeyId", "SecretAccessKey", "Token" | "SessionToken", "Expiration"}`: the container
/// endpoint's and IMDS's answer, and `credential_process`'s output.
func parseTemporaryCredentials(_ json: JSONValue, source: String) throws(AWSError) -> AWSCredentials {
    guard let id = json["AccessKeyId"]?.stringValue, let secret = json["SecretAccessKey"]?.stringValue else {
        throw AWSError(.credentials, "\(source): the answer holds no AccessKeyId/SecretAccessKey")
    }
    var expiration: Double?
    if let text = json["Expiration"]?.stringValue {
        guard let parsed = parseISO8601(text) else {
            throw AWSError(.credentials, "\(source): Expiration \"\(text)\" is not an ISO 8601 time")
        }
        expiration = parsed
    }
    return AWSCredentials(
        accessKeyId: id, secretAccessKey: secret,
        sessionToken: json["Token"]?.stringValue ?? json["SessionToken"]?.stringValue, expiration: expiration,
        source: source)
}
