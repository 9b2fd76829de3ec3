/// An AWS call that failed: what the user sees is `code: message`, plus the cause. Never holds a
/// secret (URLs are redacted by the HTTP layer; keys never reach messages).
public struct AWSError: Error, Sendable, CustomStringConvertible {
    /// Where the failure happened. `cancelled`: the caller's task was cancelled (never retried);
    /// `invalidRequest`: the request broke a documented API limit and was not sent.
    public enum Kind: Sendable { case service, transport, credentials, invalidResponse, cancelled, invalidRequest }
    public var kind: Kind
    /// The service's error code without its namespace (`ThrottlingException`), or a local one.
    public var code: String
    public var message: String
    public var httpStatus: Int?
    public var cause: String?
    /// The `source_profile` an error of a profile chain names already (nil: none): the profiles
    /// above it in the chain pass it on as it is instead of naming themselves again.
    public var sourceProfile: String?

    public init(_ kind: Kind, _ message: String, code: String? = nil, httpStatus: Int? = nil, cause: String? = nil) {
        self.kind = kind
        self.message = message
        self.code =
            code
            ?? {
                switch kind {
                case .service: return "ServiceError"
                case .transport: return "TransportError"
                case .credentials: return "CredentialsError"
                case .invalidResponse: return "InvalidResponse"
                case .cancelled: return "Cancelled"
                case .invalidRequest: return "InvalidParameterException"
                }
            }()
        self.httpStatus = httpStatus
        self.cause = cause
    }

    /// The error for a call abandoned because its task was cancelled.
    public static func cancelled(_ what: String) -> AWSError { AWSError(.cancelled, "\(what) was cancelled") }

    /// Throttling, 5xx and connection failures are worth another try; other 4xx are not, and a
    /// cancellation never is.
    public var isRetryable: Bool {
        switch kind {
        case .transport: return true
        case .credentials, .invalidResponse, .cancelled, .invalidRequest: return false
        case .service:
            if let s = httpStatus, s >= 500 || s == 429 { return true }
            return Self.throttlingCodes.contains(code) || category == .throttling
        }
    }

    public var isCancellation: Bool { kind == .cancelled }

    static let throttlingCodes: Set<String> = [
        "ThrottlingException", "Throttling", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
        "SlowDown", "RequestThrottled", "PriorRequestNotComplete", "EC2ThrottledException",
    ]

    public var isAccessDenied: Bool {
        ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException"].contains(code)
    }
    public var isSignatureMismatch: Bool { code == "SignatureDoesNotMatch" || code == "InvalidSignatureException" }

    public var description: String {
        var text = "\(code): \(message)"
        if let httpStatus { text += " (HTTP \(httpStatus))" }
        if let cause { text += ": \(cause)" }
        return text
    }
}
