import HTTP
import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An image in a private ECR registry: `<account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag|@digest]`.
/// https://docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html
public struct ECRImageReference: Sendable, Hashable, CustomStringConvertible {
    public var registryId: String
    public var region: String
    public var repository: String
    /// The tag, or nil when the image is named by digest; `latest` when neither is given.
    public var tag: String?
    public var digest: String?

    /// Nil when `image` is not in an ECR private registry (Docker Hub, public.ecr.aws, …).
    public init?(_ image: String) {
        guard let slash = image.firstIndex(of: "/") else { return nil }
        let host = image[..<slash].split(separator: ".", omittingEmptySubsequences: false)
        // 123456789012.dkr.ecr[-fips].us-east-1.amazonaws.com[.cn]
        guard host.count >= 6, host[0].count == 12, host[0].allSatisfy({ $0.isASCII && $0.isNumber }),
            host[1] == "dkr", host[2] == "ecr" || host[2] == "ecr-fips", host[4] == "amazonaws", host[5] == "com"
        else { return nil }
        registryId = String(host[0])
        region = String(host[3])
        var path = image[image.index(after: slash)...]
        if let at = path.firstIndex(of: "@") {
            digest = String(path[path.index(after: at)...])
            path = path[..<at]
        } else if let colon = path.lastIndex(of: ":") {
            tag = String(path[path.index(after: colon)...])
            path = path[..<colon]
        } else {
            tag = "latest"
        }
        repository = String(path)
        if repository.isEmpty { return nil }
    }

    public var description: String {
        "\(repository)\(digest.map { "@" + $0 } ?? ":" + (tag ?? "latest"))"
    }
}

/// What DescribeImages knows about one image.
public struct ECRImage: Sendable, Equatable {
    public var digest: String?
    public var tags: [String]
    public var sizeInBytes: Int?
    public var pushedAt: Date?
}

/// Amazon ECR, the one call `crawlrun doctor` needs: does the task's image exist?
/// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html
public struct ECRClient: Sendable {
    public let client: JSONProtocolClient

    public init(region: String, environment: AWSEnvironment, credentials: CredentialChain, http: any HTTPTransport) {
        let endpoint = environment.endpoint(service: "ECR", host: "api.ecr.\(region).amazonaws.com").url
        client = JSONProtocolClient(
            service: "ecr", targetPrefix: "AmazonEC2ContainerRegistry_V20150921", region: region, endpoint: endpoint,
            credentials: credentials, http: http, bucket: TokenBucket(capacity: 20, refillPerSecond: 10))
    }

    /// The image, or nil when the repository exists but holds no such tag or digest. A missing
    /// repository throws `RepositoryNotFoundException` (category `.notFound`).
    public func describeImage(_ image: ECRImageReference) async throws(AWSError) -> ECRImage? {
        var id: [String: JSONValue] = [:]
        if let tag = image.tag { id["imageTag"] = .string(tag) }
        if let digest = image.digest { id["imageDigest"] = .string(digest) }
        do {
            let out = try await client.call(
                "DescribeImages",
                [
                    "registryId": .string(image.registryId), "repositoryName": .string(image.repository),
                    "imageIds": [.object(id)],
                ])
            guard let detail = out["imageDetails"]?.arrayValue?.first else { return nil }
            return ECRImage(
                digest: detail["imageDigest"]?.stringValue,
                tags: (detail["imageTags"]?.arrayValue ?? []).compactMap(\.stringValue),
                sizeInBytes: detail["imageSizeInBytes"]?.intValue, pushedAt: ECSTask.date(detail["imagePushedAt"]))
        } catch  where error.code == "ImageNotFoundException" {
            return nil
        }
    }
}
