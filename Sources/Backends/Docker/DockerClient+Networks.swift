import JSONKit

/// Networks: create, inspect, remove by label.
/// https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Network
extension DockerClient {
    /// `POST /networks/create`: a bridge network; `internal` gives it no way off this machine
    /// (Docker drops whatever it would forward beyond the bridge). A name already taken throws
    /// `.conflict`.
    public func createNetwork(
        _ name: String, labels: [String: String], internal isInternal: Bool
    ) async throws -> NetworkInfo {
        let body: JSONValue = [
            "Name": .string(name), "Driver": "bridge", "Internal": .bool(isInternal), "CheckDuplicate": true,
            "Labels": .object(labels.mapValues { .string($0) }),
        ]
        let operation = "create network \(name)"
        let v = try await json(operation, request("POST", "/networks/create", body: body))
        guard let id = v["Id"]?.stringValue else {
            throw DockerError(code: .invalidResponse, operation: operation, message: "no Id in the answer")
        }
        return try await inspectNetwork(id)
    }

    /// `GET /networks/{id or name}`; `.notFound` when there is none.
    public func inspectNetwork(_ id: String) async throws -> NetworkInfo {
        let operation = "inspect network \(id)"
        let v = try await json(operation, request("GET", "/networks/\(id)"))
        let config = v["IPAM"]?["Config"]?.arrayValue?.first { $0["Subnet"]?.stringValue?.contains(".") == true }
        guard let fullID = v["Id"]?.stringValue, let subnet = config?["Subnet"]?.stringValue else {
            throw DockerError(
                code: .invalidResponse, operation: operation, message: "no Id or IPv4 subnet in the answer")
        }
        return NetworkInfo(
            id: fullID, name: v["Name"]?.stringValue ?? id, subnet: subnet, gateway: config?["Gateway"]?.stringValue,
            isInternal: v["Internal"]?.boolValue ?? false)
    }

    /// Removes every network carrying all the given labels (their containers must be gone);
    /// returns the ids removed.
    @discardableResult
    public func removeNetworks(labels: [String]) async throws -> [String] {
        let filters = JSONValue.object(["label": .array(labels.map { .string($0) })])
        let query = [("filters", String(decoding: filters.encoded(), as: UTF8.self))]
        let list = try await json("list networks", request("GET", "/networks", query: query))
        var removed: [String] = []
        for id in (list.arrayValue ?? []).compactMap({ $0["Id"]?.stringValue }) {
            do {
                _ = try await call("remove network \(id)", request("DELETE", "/networks/\(id)"), expect: [200, 204])
                removed.append(id)
            } catch let error as DockerError where error.code == .notFound {
                continue
            }
        }
        return removed
    }
}

/// What the backend needs of a network: where its hosts are and the host's address on it.
public struct NetworkInfo: Sendable, Equatable {
    public var id: String
    public var name: String
    /// `a.b.c.d/bits`.
    public var subnet: String
    /// The host's address on the network's bridge.
    public var gateway: String?
    public var isInternal: Bool
}
