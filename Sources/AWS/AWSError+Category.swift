/// What a caller does about an `AWSError`, in the few classes that call for different actions:
/// back off and try later (throttling, capacity, server, transport), fix the set-up and stop
/// (access denied, credentials, cluster not found, invalid parameter), or stop because asked to.
public enum AWSErrorCategory: String, Sendable, Equatable {
    case throttling
    /// No Fargate capacity now ("Capacity is unavailable at this time", `RESOURCE:*`).
    case capacity
    case accessDenied
    /// The key itself was rejected or could not be found (signature, unknown key, expired token).
    case credentials
    case clusterNotFound
    /// A named resource (log stream, repository, image) does not exist.
    case notFound
    case invalidParameter
    /// A 5xx or the service's own "internal error" code.
    case server
    /// No HTTP answer at all (connection refused or reset, timeout, DNS).
    case transport
    case cancelled
    case other

    /// Worth trying again later with the same request: nothing the user must change.
    public var isTransient: Bool {
        switch self {
        case .throttling, .capacity, .server, .transport: return true
        default: return false
        }
    }
}

extension AWSError {
    /// The class of this failure. Codes from the ECS, EC2, ECR, CloudWatch Logs and S3 references:
    /// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/CommonErrors.html
    public var category: AWSErrorCategory {
        switch kind {
        case .cancelled: return .cancelled
        case .transport: return .transport
        case .credentials: return .credentials
        case .invalidRequest: return .invalidParameter
        case .invalidResponse: return .server
        case .service: break
        }
        if Self.throttlingCodes.contains(code) || httpStatus == 429 { return .throttling }
        // ECS passes on a throttled EC2 call as an InvalidParameterException ("… Request limit
        // exceeded."): throttling, not a bad request.
        // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/throttling.html
        if Self.invalidParameterCodes.contains(code), Self.describesThrottling(message) { return .throttling }
        if Self.describesCapacity(message) { return .capacity }
        if isSignatureMismatch || Self.rejectedKeyCodes.contains(code) { return .credentials }
        if isAccessDenied { return .accessDenied }
        if code == "ClusterNotFoundException" { return .clusterNotFound }
        if Self.notFoundCodes.contains(code) { return .notFound }
        if Self.invalidParameterCodes.contains(code) { return .invalidParameter }
        if let s = httpStatus, s >= 500 { return .server }
        if Self.serverCodes.contains(code) { return .server }
        return .other
    }

    /// ECS's words for "no capacity now": the RunTask failure reason and the `RESOURCE:CPU`,
    /// `RESOURCE:MEMORY`, `RESOURCE:ENI`… reasons.
    /// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/api_failures_messages.html
    public static func describesCapacity(_ text: String) -> Bool {
        text.contains("Capacity is unavailable") || text.hasPrefix("RESOURCE:") || text.contains(": RESOURCE:")
    }

    /// EC2's words for its own throttling, as ECS wraps them.
    public static func describesThrottling(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.contains("request limit exceeded") || lower.contains("rate exceeded")
    }

    static let rejectedKeyCodes: Set<String> = [
        "InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId", "ExpiredToken",
        "ExpiredTokenException", "AuthFailure",
    ]
    static let notFoundCodes: Set<String> = [
        "ResourceNotFoundException", "RepositoryNotFoundException", "ImageNotFoundException", "NoSuchKey",
        "NoSuchBucket", "NotFound", "InvalidSubnetID.NotFound", "InvalidGroup.NotFound", "InvalidVpcID.NotFound",
        "InvalidRouteTableID.NotFound",
    ]
    static let invalidParameterCodes: Set<String> = [
        "InvalidParameterException", "ClientException", "ValidationException", "InvalidParameterValue",
        "InvalidParameterCombination", "MissingParameter", "PlatformUnknownException",
        "PlatformTaskDefinitionIncompatibilityException", "UnsupportedFeatureException", "ConflictException",
        "InvalidParameter", "SerializationException",
    ]
    static let serverCodes: Set<String> = [
        "ServerException", "InternalFailure", "InternalError", "InternalServerError", "ServiceUnavailable",
        "ServiceUnavailableException", "Unavailable",
    ]
}
