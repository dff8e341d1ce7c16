import AirlockCore
import Synchronization

/// How the registry judges nodes.
public struct RegistrySettings: Sendable, Equatable {
    /// No heartbeat for this long makes a node dead (seed 004 § 22.2: 15 s).
    public var heartbeatTimeoutMillis: Int64 = 15_000
    /// Until a node's heartbeats teach the tokens/s one request adds, assume its capacity is
    /// shared by this many concurrent requests.
    public var nominalConcurrency = 16
    public var health = HealthRules()

    public init() {}
}

/// A node changed live state; the daemon logs it.
public struct NodeTransition: Sendable, Equatable {
    public var nodeID: String
    public var nodeName: String
    public var from: NodeLiveState?
    public var to: NodeLiveState
    public var reason: String
}

/// Every registered node's live state, in memory (seed 004 § 21). Node rows in SQLite say who
/// may connect; this says who is connected and how busy. Membership changes rebuild an immutable
/// `Placement` index that picks read under one short lock; state and load are per-node atomics.
public final class NodeRegistry: Sendable {
    public let settings: RegistrySettings
    private let clock: @Sendable () -> Int64
    private let onTransition: @Sendable (NodeTransition) -> Void
    private let table = Mutex(Table())

    struct Table {
        var nodes: [String: LiveNode] = [:]
        var placement = Placement(nodes: [])
    }

    /// `clock` gives Unix milliseconds (tests move it by hand).
    public init(settings: RegistrySettings = RegistrySettings(), clock: @escaping @Sendable () -> Int64,
                onTransition: @escaping @Sendable (NodeTransition) -> Void = { _ in }) {
        self.settings = settings
        self.clock = clock
        self.onTransition = onTransition
    }

    /// The index picks use: nodes by model and zone.
    public var placement: Placement { table.withLock { $0.placement } }
    public var nodes: [LiveNode] { table.withLock { Array($0.nodes.values) }.sorted { $0.name < $1.name } }
    public func node(id: String) -> LiveNode? { table.withLock { $0.nodes[id] } }
    /// True once some node takes work (`/readyz`).
    public var anyActive: Bool { table.withLock { $0.nodes.values.contains { $0.state == .active } } }

    /// A node (re)connected and said what it is. A reconnecting node keeps its `LiveNode` (and
    /// so the in-flight count of requests still running on it) and takes the new profile.
    @discardableResult
    public func register(_ profile: NodeProfile, operatorDraining: Bool) -> LiveNode {
        let now = clock()
        let (node, isNew) = table.withLock { table -> (LiveNode, Bool) in
            let existing = table.nodes[profile.id]
            let node = existing ?? LiveNode(profile: profile, now: now, nominalConcurrency: settings.nominalConcurrency)
            if existing != nil { node.replace(profile: profile) }
            table.nodes[profile.id] = node
            table.placement = Placement(nodes: Array(table.nodes.values))
            return (node, existing == nil)
        }
        node.withDetails { details in
            details.lastHeartbeat = now
            details.connected = true
            details.engineReady = false
            details.drainReasons.remove(.agent)
            if operatorDraining { details.drainReasons.insert(.operatorRequest) } else { details.drainReasons.remove(.operatorRequest) }
        }
        update(node, reason: isNew ? "registered" : "registered again", announceInitial: isNew)
        return node
    }

    /// A heartbeat. `engine` carries the engine's own throughput figures when the agent could
    /// read them. Returns false for a node the registry does not hold.
    @discardableResult
    public func heartbeat(_ id: String, engineReady: Bool, engine: (tokensPerSecond: Double, requests: Int)?) -> Bool {
        guard let node = node(id: id) else { return false }
        let now = clock()
        node.withDetails { details in
            details.lastHeartbeat = now
            details.engineReady = engineReady
        }
        if let engine { node.report(tokensPerSecond: engine.tokensPerSecond, engineRequests: engine.requests) }
        update(node, reason: engineReady ? "engine ready" : "engine not ready")
        return true
    }

    /// A metrics report: applies the health rules.
    public func metrics(_ id: String, _ metrics: NodeMetrics) {
        guard let node = node(id: id) else { return }
        let rules = settings.health
        let note = node.withDetails { details -> String? in
            let violation = rules.violation(metrics, baseline: details.latencyBaselineMillis)
            if violation == nil {
                details.latencyBaselineMillis = HealthRules.updatedBaseline(details.latencyBaselineMillis, with: metrics.latencyP50Millis)
                details.drainReasons.remove(.health)
            } else {
                details.drainReasons.insert(.health)
            }
            details.healthNote = violation
            details.lastMetrics = metrics
            return violation
        }
        update(node, reason: note.map { "unhealthy: " + $0 } ?? "healthy again")
    }

    /// Starts or lifts one source of draining (operator, agent, health).
    public func setDrain(_ id: String, _ reason: DrainReasons, _ on: Bool, note: String) {
        guard let node = node(id: id) else { return }
        node.withDetails { details in
            if on { details.drainReasons.insert(reason) } else { details.drainReasons.remove(reason) }
        }
        update(node, reason: note)
    }

    /// Stops offering `id` for models outside `allowed` (removed from the catalog), without
    /// touching its state; it keeps what it still serves.
    public func restrict(_ id: String, to allowed: Set<String>) {
        table.withLock { table in
            guard let node = table.nodes[id] else { return }
            var profile = node.profile
            guard profile.models.contains(where: { !allowed.contains($0) }) else { return }
            profile.models.removeAll { !allowed.contains($0) }
            node.replace(profile: profile)
            table.placement = Placement(nodes: Array(table.nodes.values))
        }
    }

    /// The node's agent stream ended (the agent stopped, crashed, or lost the network): dead now.
    /// In-flight requests on its engine run on; a reconnecting agent registers again.
    public func disconnected(_ id: String) {
        guard let node = node(id: id) else { return }
        node.withDetails { $0.connected = false }
        update(node, reason: "connection lost")
    }

    /// Keeps the pool within the licence: nodes are admitted in the order the registry first saw
    /// them (dead ones hold no place) while both counts allow; the rest carry the `license`
    /// drain reason — registered and reporting, but not scheduled — until a place frees up or a
    /// larger licence arrives.
    public func applyLicence(maxNodes: Int, maxGPUs: Int) {
        let ordered = nodes.sorted { ($0.registeredAt, $0.id) < ($1.registeredAt, $1.id) }
        var nodes = 0, gpus = 0
        for node in ordered where node.state != .dead || node.drainReasons.contains(.license) {
            let gpuCount = node.profile.gpuCount
            let fits = node.state != .dead && nodes < maxNodes && gpus + gpuCount <= maxGPUs
            if fits {
                nodes += 1
                gpus += gpuCount
            }
            guard node.drainReasons.contains(.license) == fits else { continue }
            setDrain(node.id, .license, !fits, note: fits ? "within the licence again"
                     : "over the licence: it allows \(maxNodes) nodes and \(maxGPUs) GPUs")
        }
    }

    /// Forgets a node (revoked): it gets nothing from now on.
    public func remove(_ id: String, reason: String) {
        let removed = table.withLock { table -> LiveNode? in
            guard let node = table.nodes.removeValue(forKey: id) else { return nil }
            table.placement = Placement(nodes: Array(table.nodes.values))
            return node
        }
        guard let removed else { return }
        let from = removed.state
        removed.store(.dead)
        onTransition(NodeTransition(nodeID: id, nodeName: removed.name, from: from, to: .dead, reason: reason))
    }

    /// Marks nodes whose heartbeats stopped as dead; the daemon calls it every second.
    public func sweep() {
        for node in table.withLock({ Array($0.nodes.values) }) { update(node, reason: "no heartbeat") }
    }

    /// What an operator sees for a node.
    public func status(of node: LiveNode) -> NodeStatus {
        node.withDetails { details in
            NodeStatus(id: node.id, name: node.name, orgID: node.orgID, state: node.state, zone: details.profile.zone,
                       models: details.profile.models, engineURL: details.profile.engineURL,
                       capacityTokensPerSecond: details.profile.capacityTokensPerSecond, load: node.load,
                       requestsInFlight: node.requestsInFlight, lastHeartbeat: details.lastHeartbeat,
                       draining: details.drainReasons, healthNote: details.healthNote, hardware: details.profile.hardware,
                       metrics: details.lastMetrics)
        }
    }

    /// The one rule for a node's state: stream gone or stale heartbeats → dead; any drain reason
    /// → draining; engine ready → active; otherwise joining.
    static func derive(_ details: LiveNode.Details, now: Int64, timeout: Int64) -> NodeLiveState {
        if !details.connected || now - details.lastHeartbeat > timeout { return .dead }
        if !details.drainReasons.isEmpty { return .draining }
        return details.engineReady ? .active : .joining
    }

    /// Derives and stores the state under the node's lock, so two concurrent updates cannot
    /// store an older derivation over a newer one; the transition is announced outside it.
    private func update(_ node: LiveNode, reason: String, announceInitial: Bool = false) {
        let now = clock()
        let timeout = settings.heartbeatTimeoutMillis
        let change = node.withDetails { details -> (NodeLiveState, NodeLiveState)? in
            let previous = node.state
            let next = Self.derive(details, now: now, timeout: timeout)
            guard next != previous || announceInitial else { return nil }
            node.store(next)
            return (previous, next)
        }
        guard let (previous, next) = change else { return }
        onTransition(NodeTransition(nodeID: node.id, nodeName: node.name, from: announceInitial ? nil : previous,
                                    to: next, reason: reason))
    }
}

extension NodeRegistry {
    /// Every node's live status, for `airlock node list` (through the daemon's snapshot file).
    public func snapshot(at now: UnixMillis) -> LiveNodesSnapshot {
        LiveNodesSnapshot(writtenAt: now, nodes: nodes.map { node in
            let status = status(of: node)
            var reasons: [String] = []
            for (reason, name) in [(DrainReasons.operatorRequest, "operator"), (.agent, "agent"), (.health, "health"), (.license, "licence")]
            where status.draining.contains(reason) {
                reasons.append(name)
            }
            return LiveNodesSnapshot.Entry(
                id: status.id, name: status.name, state: "\(status.state)", zone: status.zone, models: status.models,
                load: (status.load * 1_000).rounded() / 1_000, requestsInFlight: status.requestsInFlight,
                lastHeartbeat: UnixMillis(status.lastHeartbeat), drainReasons: reasons, note: status.healthNote,
                gpus: node.profile.gpuCount, gpuTemperatureCelsius: status.metrics?.maxTemperatureCelsius,
                gpuMemoryUsedMiB: status.metrics?.memoryUsedMiB, gpuMemoryTotalMiB: status.metrics?.memoryTotalMiB)
        })
    }
}

/// A node's live status, for logs, the admin API and tests.
public struct NodeStatus: Sendable {
    public var id: String
    public var name: String
    public var orgID: OrgID?
    public var state: NodeLiveState
    public var zone: String
    public var models: [String]
    public var engineURL: String
    public var capacityTokensPerSecond: Double
    public var load: Double
    public var requestsInFlight: Int
    public var lastHeartbeat: Int64
    public var draining: DrainReasons
    public var healthNote: String?
    public var hardware: String
    /// The last metrics report (GPU temperature and memory), nil before the first.
    public var metrics: NodeMetrics?
}
