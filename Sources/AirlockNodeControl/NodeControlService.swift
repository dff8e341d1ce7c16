import AirlockCertificates
import AirlockCore
import AirlockNodeProtocol
import AirlockScheduler
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging

/// The daemon's side of `NodeControl.Connect` (port 9443). The peer certificate was checked in
/// the TLS handshake; it is checked again here (the node may have been revoked in between) and
/// names the node — nothing the agent sends does. The first message must be `register`; what it
/// claims is checked against the node row and the model catalog before the registry hears of it.
public struct NodeControlService: Airlock_Node_V1_NodeControl.SimpleServiceProtocol {
    let gate: NodeGate
    let registry: NodeRegistry
    let connections: NodeConnections
    /// The zone of nodes whose row names none.
    let homeZone: String
    /// The model catalog: agents may register only these.
    let knownModels: @Sendable () async throws -> Set<String>
    let logger: Logger

    public init(gate: NodeGate, registry: NodeRegistry, connections: NodeConnections, homeZone: String,
                knownModels: @escaping @Sendable () async throws -> Set<String>, logger: Logger) {
        self.gate = gate
        self.registry = registry
        self.connections = connections
        self.homeZone = homeZone
        self.knownModels = knownModels
        self.logger = logger
    }

    public static let heartbeatSeconds: UInt32 = 5
    public static let metricsSeconds: UInt32 = 15

    public func connect(
        request: RPCAsyncSequence<Airlock_Node_V1_AgentMessage, any Error>,
        response: RPCWriter<Airlock_Node_V1_ControlMessage>,
        context: ServerContext
    ) async throws {
        let peer = context.remotePeer
        guard let certificate = (context.transportSpecific as? HTTP2ServerTransport.Posix.Context)?.peerCertificate,
              let node = await gate.admit(certificate, peer: peer)
        else {
            throw RPCError(code: .unauthenticated, message: "this certificate may not connect; see the appliance's audit log")
        }
        let messages = InboundMessages(request.makeAsyncIterator())
        guard case let .register(registration)? = try await messages.next()?.body else {
            _ = await gate.refuse(node.id.rawValue, "the first message was not register", peer: peer, action: "node.register_refused")
            throw RPCError(code: .failedPrecondition, message: "the first message must be register")
        }
        let profile = try await profile(for: node, from: registration, peer: peer)
        let (serial, outbound) = connections.open(node.id.rawValue, name: node.name, agentVersion: String(registration.agentVersion.prefix(32)))
        defer {
            // Only if this is still the node's stream: a newer one replaced it otherwise.
            if connections.release(node.id.rawValue, serial: serial) { registry.disconnected(node.id.rawValue) }
        }
        registry.register(profile, operatorDraining: node.draining)
        logger.info("node registered", metadata: [
            "node": "\(node.name)", "id": "\(node.id)", "peer": "\(peer)", "models": "\(profile.models.joined(separator: ","))",
            "zone": "\(profile.zone)", "engine": "\(profile.engineURL)", "hardware": "\(profile.hardware)",
            "agent_version": "\(registration.agentVersion.prefix(32))",
        ])
        var registered = Airlock_Node_V1_Registered()
        registered.nodeID = node.id.rawValue
        registered.nodeName = node.name
        registered.heartbeatIntervalSeconds = Self.heartbeatSeconds
        registered.metricsIntervalSeconds = Self.metricsSeconds
        var answer = Airlock_Node_V1_ControlMessage()
        answer.registered = registered
        try await response.write(answer)

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await item in outbound {
                    switch item {
                    case let .success(message): try await response.write(message)
                    case let .failure(closed): throw RPCError(code: .permissionDenied, message: closed.reason)
                    }
                }
            }
            group.addTask {
                while let message = try await messages.next() { handle(message, node: node) }
            }
            // Whichever ends first ends the stream: the agent hung up, or the control plane closed it.
            defer { group.cancelAll() }
            try await group.next()
        }
        logger.info("node stream ended", metadata: ["node": "\(node.name)"])
    }

    private func handle(_ message: Airlock_Node_V1_AgentMessage, node: Node) {
        let id = node.id.rawValue
        switch message.body {
        case let .heartbeat(beat)?:
            let figures = beat.hasTokensPerSecond && beat.hasRequestsInFlight
                ? (tokensPerSecond: beat.tokensPerSecond, requests: Int(beat.requestsInFlight)) : nil
            registry.heartbeat(id, engineReady: beat.engineState == .ready, engine: figures)
        case let .metrics(report)?:
            let hottest = report.gpus.map(\.temperatureCelsius).max()
            let memory = report.gpus.isEmpty ? nil : (used: report.gpus.reduce(0) { $0 + $1.memoryUsedMib },
                                                       total: report.gpus.reduce(0) { $0 + $1.memoryTotalMib })
            registry.metrics(id, NodeMetrics(maxTemperatureCelsius: hottest, oomEvents: Int(report.oomEvents),
                                             latencyP50Millis: report.latencyP50Ms > 0 ? report.latencyP50Ms : nil,
                                             memoryUsedMiB: memory?.used, memoryTotalMiB: memory?.total,
                                             utilisationPercent: report.gpus.isEmpty ? nil
                                                 : report.gpus.reduce(0) { $0 + $1.utilizationPercent } / Double(report.gpus.count)))
        case let .maintenanceWarning(warning)?:
            registry.setDrain(id, .agent, true, note: "maintenance in \(warning.secondsUntil) s: \(warning.reason.prefix(200))")
        case .maintenanceOver?:
            registry.setDrain(id, .agent, false, note: "maintenance over")
        case let .shuttingDown(notice)?:
            registry.setDrain(id, .agent, true, note: "agent shutting down: \(notice.reason.prefix(200))")
        case let .commandResult(result)?:
            connections.deliver(result)
            logger.info("node command result", metadata: ["node": "\(node.name)", "command": "\(result.commandID)",
                                                          "ok": "\(result.ok)", "message": "\(result.message.prefix(500))"])
        case .register?:
            logger.warning("node sent register twice; ignored", metadata: ["node": "\(node.name)"])
        case nil:
            break
        }
    }

    /// What the registry will hold for this node: identity, org and zone from the node row; engine,
    /// models and capacity from the agent, checked.
    private func profile(for node: Node, from registration: Airlock_Node_V1_Register, peer: String) async throws -> NodeProfile {
        func refuse(_ reason: String) async -> RPCError {
            _ = await gate.refuse(node.id.rawValue, reason, peer: peer, action: "node.register_refused")
            return RPCError(code: .invalidArgument, message: reason)
        }
        guard !registration.models.isEmpty, registration.models.count <= 64 else {
            throw await refuse("a node must serve 1 to 64 models")
        }
        let catalog = try await knownModels()
        let unknown = registration.models.filter { !catalog.contains($0) }
        guard unknown.isEmpty else {
            throw await refuse("models not in the appliance's catalog: \(unknown.prefix(5).joined(separator: ", ")) (airlock model add NAME)")
        }
        guard let engineURL = EngineConfig.engineURL(registration.engineURL) else {
            throw await refuse("engine_url must be http(s)://host:port with no path, got '\(registration.engineURL.prefix(200))'")
        }
        guard (1...100_000_000).contains(registration.capacityTokensPerSecond) else {
            throw await refuse("capacity_tokens_per_second must be 1 to 100,000,000")
        }
        let reportedZone = registration.zone.isEmpty ? nil : registration.zone
        if let rowZone = node.zone, let reportedZone, reportedZone != rowZone {
            throw await refuse("agent says zone \(reportedZone.prefix(64)) but node \(node.name) was enrolled in zone \(rowZone)")
        }
        let hardware = registration.hasHardware
            ? "\(registration.hardware.gpuCount)× \(registration.hardware.gpuType.prefix(64)) \(registration.hardware.vramMibPerGpu) MiB" : ""
        return NodeProfile(id: node.id.rawValue, name: node.name, orgID: node.orgID, zone: node.zone ?? homeZone,
                           engineURL: engineURL, models: registration.models,
                           capacityTokensPerSecond: Double(registration.capacityTokensPerSecond), hardware: hardware,
                           gpuCount: registration.hasHardware ? Int(min(registration.hardware.gpuCount, 4_096)) : 0)
    }
}

/// The agent's messages, read first by the handler (the registration) and then by the one
/// reader task: never by two tasks at once, which the type system cannot see on its own.
final class InboundMessages: @unchecked Sendable {
    private var iterator: RPCAsyncSequence<Airlock_Node_V1_AgentMessage, any Error>.AsyncIterator

    init(_ iterator: RPCAsyncSequence<Airlock_Node_V1_AgentMessage, any Error>.AsyncIterator) {
        self.iterator = iterator
    }

    func next() async throws -> Airlock_Node_V1_AgentMessage? { try await iterator.next() }
}
