import AirlockAdmin
import AirlockCore
import AirlockNodeProtocol
import AirlockScheduler
import Logging

/// Keeps the registry true to the node rows, which the CLI (another process) changes: every
/// second it applies revocations (the node leaves the registry and its stream is cut at once)
/// and drain/resume (the registry stops or resumes sending work, and the agent is told), and
/// sweeps nodes whose heartbeats stopped.
public final class NodeReconciler: Sendable {
    let admin: AdminActions
    let registry: NodeRegistry
    let connections: NodeConnections
    let logger: Logger

    public init(admin: AdminActions, registry: NodeRegistry, connections: NodeConnections, logger: Logger) {
        self.admin = admin
        self.registry = registry
        self.connections = connections
        self.logger = logger
    }

    /// One pass; the daemon calls it every second.
    public func reconcile() async {
        registry.sweep()
        let rows: [String: Node]
        do {
            rows = Dictionary(uniqueKeysWithValues: try await admin.listNodes().map { ($0.id.rawValue, $0) })
        } catch {
            logger.error("could not read node rows", metadata: ["error": "\(error)"])
            return
        }
        for node in registry.nodes {
            guard let row = rows[node.id], row.enrolment == .enrolled else {
                registry.remove(node.id, reason: "revoked")
                connections.close(node.id, reason: "node revoked")
                continue
            }
            let draining = registry.status(of: node).draining.contains(.operatorRequest)
            guard draining != row.draining else { continue }
            registry.setDrain(node.id, .operatorRequest, row.draining, note: row.draining ? "operator drain" : "operator resume")
            if row.draining {
                var drain = Airlock_Node_V1_Drain()
                drain.reason = "operator"
                connections.send(node.id, .drain(drain))
            } else {
                connections.send(node.id, .resume(Airlock_Node_V1_Resume()))
            }
        }
        for id in connections.connected where rows[id]?.enrolment != .enrolled {
            connections.close(id, reason: "node revoked")
        }
    }
}
