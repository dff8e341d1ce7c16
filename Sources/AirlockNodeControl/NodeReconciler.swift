import AirlockAdmin
import AirlockCore
import AirlockNodeProtocol
import AirlockScheduler
import Logging
import Synchronization

/// Keeps the registry true to the node rows and the model catalog, which the CLI (another
/// process) changes: every second it applies revocations (the node leaves the registry and its
/// stream is cut at once), drain/resume (the registry stops or resumes sending work, and the
/// agent is told) and models removed from the catalog (no longer offered), and sweeps nodes
/// whose heartbeats stopped.
public final class NodeReconciler: Sendable {
    let admin: AdminActions
    /// The model catalog; a model removed from it is withdrawn from connected nodes.
    let catalog: @Sendable () async throws -> Set<String>
    let registry: NodeRegistry
    let connections: NodeConnections
    let logger: Logger
    /// The reload count last acted on per node, primed from the rows at start (`prime`), so
    /// that a daemon restart does not replay old requests.
    private let seenReloads = Mutex<[String: Int64]>([:])
    /// The licence's node and GPU counts; nil: not enforced (tests, tools).
    private let licensedPool = Mutex<(maxNodes: Int, maxGPUs: Int)?>(nil)

    /// The daemon passes the licence's counts whenever it re-reads the licence.
    public func licence(maxNodes: Int, maxGPUs: Int) {
        licensedPool.withLock { $0 = (maxNodes, maxGPUs) }
    }

    public init(admin: AdminActions, catalog: @escaping @Sendable () async throws -> Set<String>, registry: NodeRegistry,
                connections: NodeConnections, logger: Logger) {
        self.admin = admin
        self.catalog = catalog
        self.registry = registry
        self.connections = connections
        self.logger = logger
    }

    /// Records the reload requests already in the rows before the first pass, so that those
    /// made before this daemon started are not replayed and those made after are not missed.
    public func prime() async throws {
        let rows = try await admin.listNodes()
        seenReloads.withLock { $0 = Dictionary(uniqueKeysWithValues: rows.map { ($0.id.rawValue, $0.reloadRequests) }) }
    }

    /// One pass; the daemon calls it every second.
    public func reconcile() async {
        registry.sweep()
        let rows: [String: Node]
        let models: Set<String>
        do {
            rows = Dictionary(uniqueKeysWithValues: try await admin.listNodes().map { ($0.id.rawValue, $0) })
            models = try await catalog()
        } catch is CancellationError {
            return  // the daemon is stopping
        } catch {
            logger.error("could not read node rows", metadata: ["error": "\(error)"])
            return
        }
        // Only enrolled nodes are judged by their rows: the development `[[engines]]` nodes
        // (`static:<name>`) have no row and are the daemon's own.
        for node in registry.nodes where NodeID(rawValue: node.id) != nil {
            guard let row = rows[node.id], row.enrolment == .enrolled else {
                registry.remove(node.id, reason: "revoked")
                connections.close(node.id, reason: "node revoked")
                continue
            }
            registry.restrict(node.id, to: models)
            reloadIfAsked(node, row)
            guard node.drainReasons.contains(.operatorRequest) != row.draining else { continue }
            registry.setDrain(node.id, .operatorRequest, row.draining, note: row.draining ? "operator drain" : "operator resume")
            if row.draining {
                var drain = Airlock_Node_V1_Drain()
                drain.reason = "operator"
                connections.send(node.id, .drain(drain))
            } else {
                connections.send(node.id, .resume(Airlock_Node_V1_Resume()))
            }
        }
        if let pool = licensedPool.withLock({ $0 }) { registry.applyLicence(maxNodes: pool.maxNodes, maxGPUs: pool.maxGPUs) }
    }

    /// Sends one `ReloadModel` per new request; a node whose stream is down gets it when it
    /// connects again (asking again while one is pending sends one, not two).
    private func reloadIfAsked(_ node: LiveNode, _ row: Node) {
        let previous = seenReloads.withLock { $0[node.id] } ?? 0
        guard row.reloadRequests > previous, connections.send(node.id, .reloadModel(Airlock_Node_V1_ReloadModel())) else { return }
        seenReloads.withLock { $0[node.id] = row.reloadRequests }
        logger.notice("engine reload sent to the node's agent", metadata: ["node": "\(node.name)"])
    }
}
