import JSONKit

/// One reading of a container's resource use (`crawlrun calibrate`).
public struct ContainerStats: Sendable, Equatable {
    /// CPU time used since the container started, in seconds.
    public var cpuSeconds: Double
    /// Memory in use now, in bytes (the cgroup's usage less its inactive file cache, as `docker
    /// stats` shows it).
    public var memoryBytes: Double
}

extension DockerClient {
    /// `GET /containers/{id}/stats?stream=false&one-shot=true`: one reading. Docker Engine and
    /// podman's compatible API both answer `cpu_stats.cpu_usage.total_usage` (nanoseconds) and
    /// `memory_stats.usage` (https://docs.docker.com/reference/api/engine/version/v1.43/#tag/Container/operation/ContainerStats).
    /// nil for a container that has stopped (no cgroup left to read).
    public func stats(_ id: String) async throws -> ContainerStats? {
        let query = [("stream", "false"), ("one-shot", "true")]
        let v = try await json("stats of container \(id)", request("GET", "/containers/\(id)/stats", query: query))
        guard let ns = v["cpu_stats"]?["cpu_usage"]?["total_usage"]?.doubleValue, ns > 0 else { return nil }
        let usage = v["memory_stats"]?["usage"]?.doubleValue ?? 0
        let inactive =
            v["memory_stats"]?["stats"]?["inactive_file"]?.doubleValue
            ?? v["memory_stats"]?["stats"]?["total_inactive_file"]?.doubleValue ?? 0
        return ContainerStats(cpuSeconds: ns / 1e9, memoryBytes: max(0, usage - inactive))
    }
}
