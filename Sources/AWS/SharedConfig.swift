#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The shared credentials and config files (`~/.aws/credentials`, `~/.aws/config`): INI sections,
/// `[profile NAME]` and `[sso-session NAME]` in the config file, `[NAME]` in the credentials file.
/// https://docs.aws.amazon.com/sdkref/latest/guide/file-format.html
public struct SharedConfig: Sendable {
    public var profile: String
    /// AWS_PROFILE (or AWS_DEFAULT_PROFILE) names the profile: it must then give credentials,
    /// never fall through to the container or the instance role.
    public var profileNamed: Bool
    var home: String
    var credentialsFile: String
    var configFile: String

    public init(environment: [String: String]) {
        home = environment["HOME"] ?? "/root"
        let named = environment["AWS_PROFILE"] ?? environment["AWS_DEFAULT_PROFILE"]
        profile = named ?? "default"
        profileNamed = named != nil
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
                    .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            } else if let current, let eq = line.firstIndex(of: "=") {
                sections[current, default: [:]][String(line[..<eq].trimmingWhitespace()).lowercased()] =
                    String(line[line.index(after: eq)...].trimmingWhitespace())
            }
        }
        return sections
    }

    /// One profile's settings: its config-file section and its credentials-file section.
    struct Profile: Sendable {
        var name: String
        var config: [String: String]?
        var credentials: [String: String]?
        var exists: Bool { config != nil || credentials != nil }
        /// A setting, the credentials file first (as the SDKs read them).
        subscript(key: String) -> String? {
            (credentials?[key] ?? config?[key]).flatMap { $0.isEmpty ? nil : $0 }
        }
    }

    func profile(_ name: String) -> Profile {
        let config = Self.parse(configFile)
        return Profile(
            name: name,
            config: name == "default" ? config["default"] ?? config["profile default"] : config["profile \(name)"],
            credentials: Self.parse(credentialsFile)[name])
    }

    /// `[sso-session NAME]` of the config file.
    func ssoSession(_ name: String) -> [String: String]? { Self.parse(configFile)["sso-session \(name)"] }

    /// The profile's static keys (credentials file, else config file); nil when it has none.
    func staticKeys(_ p: Profile) throws(AWSError) -> AWSCredentials? {
        for (section, file) in [(p.credentials, credentialsFile), (p.config, configFile)] {
            guard let section, let id = section["aws_access_key_id"], !id.isEmpty else { continue }
            guard let secret = section["aws_secret_access_key"], !secret.isEmpty else {
                throw AWSError(
                    .credentials, "profile \(p.name) in \(file) has aws_access_key_id but no aws_secret_access_key")
            }
            return AWSCredentials(
                accessKeyId: id, secretAccessKey: secret, sessionToken: section["aws_session_token"],
                source: "profile \(p.name) (\(file))")
        }
        return nil
    }

    /// The profile's keys from the credentials file, else from the config file.
    public func credentials() throws(AWSError) -> AWSCredentials? { try staticKeys(profile(profile)) }

    public func region() -> String? { profile(profile).config?["region"] }
}

/// Region and endpoints, the SDK way: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile;
/// `AWS_ENDPOINT_URL_<SERVICE>` or `AWS_ENDPOINT_URL` override the endpoint (moto, LocalStack).
/// https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
public struct AWSEnvironment: Sendable {
    public var variables: [String: String]
    public init(_ variables: [String: String]) { self.variables = variables }

    public func region(fallback: String? = nil) -> String? {
        variables["AWS_REGION"] ?? variables["AWS_DEFAULT_REGION"] ?? SharedConfig(environment: variables).region()
            ?? fallback
    }

    /// `service`: the SDK's service id in upper snake case (ECS, CLOUDWATCH_LOGS, S3, STS, SSO).
    public func endpoint(service: String, host: String) -> (url: String, overridden: Bool) {
        if let url = variables["AWS_ENDPOINT_URL_\(service)"] ?? variables["AWS_ENDPOINT_URL"], !url.isEmpty {
            return (url.hasSuffix("/") ? String(url.dropLast()) : url, true)
        }
        return ("https://" + host, false)
    }
}
