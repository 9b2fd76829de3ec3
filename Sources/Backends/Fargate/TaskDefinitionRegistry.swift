import AWS
import JSONKit

/// Registers the job's task definition, or reuses the family's latest ACTIVE revision when it
/// already says everything the rendered one says (DESIGN.md, "fargate"): a rerun of an unchanged
/// job adds no revision and spends none of RegisterTaskDefinition's 1-a-second budget.
public enum TaskDefinitionRegistry {
    public struct Registered: Sendable, Equatable {
        public var arn: String
        public var revision: Int
        /// True when an identical revision was already there.
        public var reused: Bool
    }

    public static func ensure(_ definition: JSONValue, ecs: ECSClient) async throws(AWSError) -> Registered {
        let family = definition["family"]?.stringValue ?? ""
        do {
            let described = try await ecs.describeTaskDefinition(family)
            if let current = described["taskDefinition"], current["status"]?.stringValue == "ACTIVE",
                contains(current, definition), let arn = current["taskDefinitionArn"]?.stringValue
            {
                return Registered(arn: arn, revision: current["revision"]?.intValue ?? 0, reused: true)
            }
        } catch  where error.code == "ClientException" {
            // No revision of this family yet ("Unable to describe task definition").
        }
        let out = try await ecs.registerTaskDefinition(definition)
        guard let registered = out["taskDefinition"], let arn = registered["taskDefinitionArn"]?.stringValue else {
            throw AWSError(.invalidResponse, "RegisterTaskDefinition answered without a taskDefinitionArn")
        }
        return Registered(arn: arn, revision: registered["revision"]?.intValue ?? 0, reused: false)
    }

    /// True when `actual` says everything `wanted` says. ECS adds defaults (`cpu: 0`,
    /// `mountPoints: []`, a port's `hostPort`…), so objects may hold more keys; arrays hold the
    /// same number of elements, each wanted one matched by a distinct actual one.
    static func contains(_ actual: JSONValue, _ wanted: JSONValue) -> Bool {
        switch (actual, wanted) {
        case (.object(let a), .object(let w)):
            return w.allSatisfy { key, value in a[key].map { contains($0, value) } ?? false }
        case (.array(let a), .array(let w)):
            guard a.count == w.count else { return false }
            var unused = a
            for item in w {
                guard let i = unused.firstIndex(where: { contains($0, item) }) else { return false }
                unused.remove(at: i)
            }
            return true
        default:
            return actual == wanted
        }
    }
}
