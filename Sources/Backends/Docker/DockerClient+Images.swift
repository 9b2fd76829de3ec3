import JSONKit

/// Images: inspect, pull, and the two together.
/// https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Image
extension DockerClient {
    /// `GET /images/{name}/json`; nil when the engine has no such image (404).
    public func inspectImage(_ reference: String) async throws -> ImageInfo? {
        let operation = "inspect image \(reference)"
        let r = try await call(
            operation, request("GET", "/images/\(Self.encode(reference, keeping: "/:@"))/json"), expect: [200, 404])
        if r.status == 404 { return nil }
        guard let v = try? JSONValue.decode(r.body), let id = v["Id"]?.stringValue else {
            throw DockerError(
                code: .invalidResponse, operation: operation, message: "no image Id in the answer", status: r.status)
        }
        return ImageInfo(
            id: id, repoTags: v["RepoTags"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            architecture: v["Architecture"]?.stringValue ?? "", os: v["Os"]?.stringValue ?? "",
            size: v["Size"]?.doubleValue.map { Int64($0) } ?? 0,
            labels: v["Config"]?["Labels"]?.objectValue?.compactMapValues(\.stringValue) ?? [:])
    }

    /// `POST /images/create?fromImage=…`. The engine answers HTTP 200 as soon as it starts, and a
    /// failure arrives later inside the JSON stream (`{"error": …, "errorDetail": {"message": …}}`):
    /// the whole stream is read and searched. A reference without a tag or digest pulls `latest`
    /// (an empty tag would pull every tag). Slow even for a failure (podman spends about 3 s on
    /// `localhost/…`): call `ensureImage`, which inspects first.
    public func pullImage(_ reference: String) async throws {
        let operation = "pull image \(reference)"
        var query = [("fromImage", reference)]
        if !Self.hasTagOrDigest(reference) { query.append(("tag", "latest")) }
        let r = try await call(
            operation, request("POST", "/images/create", query: query, timeout: Self.unbounded), expect: [200])
        for line in r.body.split(separator: UInt8(ascii: "\n")) {
            guard let event = try? JSONValue.decode(line) else { continue }
            if let message = event["errorDetail"]?["message"]?.stringValue ?? event["error"]?.stringValue {
                throw DockerError(code: .pullFailed, operation: operation, message: message, status: r.status)
            }
        }
    }

    /// The image, pulled first when the engine does not have it. A failed pull throws `pullFailed`
    /// with the engine's reason.
    public func ensureImage(_ reference: String) async throws -> ImageInfo {
        if let image = try await inspectImage(reference) { return image }
        do {
            try await pullImage(reference)
        } catch var error as DockerError where error.code == .server {
            // Docker Engine answers a pull it cannot even begin (a `localhost/…` name: no registry
            // there) with HTTP 500 rather than an error in the stream; the image is still missing.
            error.code = .pullFailed
            throw error
        }
        guard let image = try await inspectImage(reference) else {
            throw DockerError(
                code: .pullFailed, operation: "pull image \(reference)",
                message: "the pull reported no error, yet the engine has no such image")
        }
        return image
    }

    /// `POST /commit`: an image of the container as it is, its configuration (entrypoint,
    /// command, environment) included: a way to make a small image without a registry or a
    /// build context. Returns the image's id.
    public func commitContainer(_ id: String, repository: String, tag: String) async throws -> String {
        let operation = "commit container \(id) as \(repository):\(tag)"
        let v = try await json(
            operation,
            // An empty configuration changes nothing; podman refuses a commit without a body.
            request(
                "POST", "/commit", query: [("container", id), ("repo", repository), ("tag", tag)], body: .object([:])))
        guard let image = v["Id"]?.stringValue else {
            throw DockerError(code: .invalidResponse, operation: operation, message: "no Id in the answer")
        }
        return image
    }

    /// `DELETE /images/{name}?force=1`. An image that does not exist throws `.notFound`.
    public func removeImage(_ reference: String) async throws {
        _ = try await call(
            "remove image \(reference)",
            request("DELETE", "/images/\(Self.encode(reference, keeping: "/:@"))", query: [("force", "1")]),
            expect: [200])
    }

    /// `name:tag` or `name@sha256:…`; a `:` before the last `/` is a registry's port.
    static func hasTagOrDigest(_ reference: String) -> Bool {
        if reference.contains("@") { return true }
        let lastComponent = reference.split(separator: "/").last ?? Substring(reference)
        return lastComponent.contains(":")
    }
}

/// What `inspectImage` tells of an image.
public struct ImageInfo: Sendable, Equatable {
    public var id: String
    public var repoTags: [String]
    public var architecture: String
    public var os: String
    /// Bytes, as the engine counts them (podman: the whole image).
    public var size: Int64
    public var labels: [String: String]
}
