import HTTP

/// The AWS clients a Fargate run uses, built once from one environment: one credential chain,
/// one region, one connection pool.
public struct AWSServices: Sendable {
    public let region: String
    public let environment: AWSEnvironment
    public let credentials: CredentialChain
    public let ecs: ECSClient
    public let logs: LogsClient
    public let s3: S3Client
    /// The schedules that start a job's coordinator task (`crawlrun schedule`).
    public let scheduler: SchedulerClient
    /// The event a coordinator puts when a run ends.
    public let events: EventsClient
    /// Read-only network checks (`crawlrun doctor`).
    public let ec2: EC2Client
    /// Who the credentials are (`crawlrun doctor`).
    public let sts: STSClient
    let http: any HTTPTransport

    public init(region: String, variables: [String: String], http: (any HTTPTransport)? = nil) {
        let http = http ?? CurlHTTPClient(connectTimeout: .seconds(5), timeout: .seconds(60))
        self.region = region
        self.http = http
        environment = AWSEnvironment(variables)
        credentials = CredentialChain(environment: variables, http: http)
        ecs = ECSClient(region: region, environment: environment, credentials: credentials, http: http)
        logs = LogsClient(region: region, environment: environment, credentials: credentials, http: http)
        s3 = S3Client(region: region, environment: environment, credentials: credentials, http: http)
        scheduler = SchedulerClient(region: region, environment: environment, credentials: credentials, http: http)
        events = EventsClient(region: region, environment: environment, credentials: credentials, http: http)
        ec2 = EC2Client(region: region, environment: environment, credentials: credentials, http: http)
        sts = STSClient(region: region, environment: environment, credentials: credentials, http: http)
    }

    /// ECR in `region`: an image's registry may be in another Region than the run.
    public func ecr(region: String? = nil) -> ECRClient {
        ECRClient(region: region ?? self.region, environment: environment, credentials: credentials, http: http)
    }

    /// The endpoint overrides in effect (moto, LocalStack), so nobody mistakes them for AWS.
    public var endpointOverrides: [String] {
        environment.variables.filter { $0.key.hasPrefix("AWS_ENDPOINT_URL") && !$0.value.isEmpty }
            .map { "\($0.key)=\($0.value)" }.sorted()
    }
}
