import Coordinator
import CrawlKit
import JSONKit

/// The task's two images on the engine: present, pulled, or a message that says how to build them.
enum DockerImages {
    /// Every image the task definition names, pulled when the engine does not have it. Runs once
    /// per run, before any task: a missing image fails the run at once (exit 2) instead of every
    /// task in turn, and the message names the image and the way to build it.
    static func ensure(_ definition: JSONValue, client: DockerClient) async throws(RunFailure) {
        for container in definition["containerDefinitions"]?.arrayValue ?? [] {
            guard let image = container["image"]?.stringValue, let name = container["name"]?.stringValue else {
                continue
            }
            do {
                _ = try await client.ensureImage(image)
            } catch let error as DockerError where error.code == .pullFailed || error.code == .notFound {
                throw RunFailure(
                    "the \(name) image \(image) is not on the Docker engine at \(client.endpoint) and could not be "
                        + "pulled (\(error.message))", cause: howToGet(image, container: name))
            } catch {
                throw RunFailure("the \(name) image \(image) could not be checked", cause: "\(error)")
            }
        }
    }

    /// Where the image comes from, in commands a user can run from the repository's root.
    static func howToGet(_ image: String, container: String) -> String {
        if container == TaskDefinition.crawlerName {
            return "build it from the CrawlRun repository: docker build -f images/crawler/Dockerfile -t \(image) . "
                + "(or set task.crawlerImage to an image the engine has)"
        }
        if image.hasPrefix("selenium/") {
            return "pull it where Docker Hub is reachable (docker pull \(image)), or build the slim sidecar "
                + "(docker build -t crawlrun/sidecar images/sidecar) and set task.sidecarImage to crawlrun/sidecar"
        }
        return "build the slim sidecar from the CrawlRun repository: docker build -t \(image) images/sidecar "
            + "(or set task.sidecarImage to an image the engine has)"
    }

    /// The build hint for an error that says an image is missing, else nil.
    static func hint(for error: any Error, image: String, container: String) -> String? {
        guard let error = error as? DockerError, error.code == .notFound || error.code == .pullFailed,
            error.message.lowercased().contains("image")
        else { return nil }
        return howToGet(image, container: container)
    }
}
