import HTTP
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Logs, streamed line by line.
/// https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Container/operation/ContainerLogs
extension DockerClient {
    /// `GET /containers/{id}/logs?stdout=1&stderr=1…`: stdout and stderr as lines, as the engine
    /// sends them. With `follow` the stream lasts until the container stops (podman and Docker end
    /// it then), else it ends with what was written so far. `since` keeps lines from that time on
    /// (whole seconds: the engine's resolution). Ending the iteration (or cancelling the task
    /// that iterates) ends the transfer.
    public func logs(
        _ id: String, follow: Bool = true, timestamps: Bool = true, since: Date? = nil
    ) -> AsyncThrowingStream<LogLine, any Error> {
        var query = [
            ("stdout", "1"), ("stderr", "1"), ("follow", follow ? "1" : "0"), ("timestamps", timestamps ? "1" : "0"),
        ]
        if let since { query.append(("since", String(Int(since.timeIntervalSince1970)))) }
        let request = request("GET", "/containers/\(id)/logs", query: query, timeout: Self.unbounded)
        return stream("read the logs of container \(id)", request, timestamps: timestamps)
    }

    /// Sends `request` and yields the lines of its multiplexed answer as they arrive.
    func stream(
        _ operation: String, _ request: HTTPRequest, timestamps: Bool
    ) -> AsyncThrowingStream<LogLine, any Error> {
        AsyncThrowingStream { continuation in
            let demuxer = DemuxerBox(timestamps: timestamps)
            let task = Task {
                do {
                    let response = try await http.stream(request) { chunk in
                        for line in demuxer.state.withLock({ $0.feed(chunk) }) { continuation.yield(line) }
                    }
                    guard response.status == 200 else { throw DockerError.from(response, operation: operation) }
                    for line in demuxer.state.withLock({ $0.finish() }) { continuation.yield(line) }
                    continuation.finish()
                } catch let error as DockerError {
                    continuation.finish(throwing: error)
                } catch {
                    continuation.finish(throwing: DockerError.from(error, operation: operation, endpoint: endpoint))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// The demuxer of one transfer: fed on the transfer's thread, flushed by the task that awaits it.
final class DemuxerBox: Sendable {
    let state: Mutex<LogDemuxer>
    init(timestamps: Bool) { state = Mutex(LogDemuxer(timestamps: timestamps)) }
}
