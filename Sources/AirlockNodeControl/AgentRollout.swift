import AirlockAdmin
import AirlockCore
import AirlockNodeProtocol
import Foundation
import Logging
import Synchronization

/// Rolls the agent of the release the daemon runs out to the connected nodes over their mTLS
/// streams, one node at a time, stopping at the first failure. Each agent checks the signed
/// manifest and the binary's hash itself, stages it, drains, restarts and registers again; the
/// roll-out moves on only once that node is back on the new release.
public final class AgentRollout: AgentRollouts {
    let connections: NodeConnections
    let admin: AdminActions
    let release: RunningRelease
    let logger: Logger
    /// How long a node has to come back on the new release (drain included).
    let comeBackSeconds: Int
    private let status = Mutex<AgentRolloutStatus?>(nil)

    static let chunkBytes = 1 << 20

    public init(connections: NodeConnections, admin: AdminActions, release: RunningRelease = .current, logger: Logger,
                comeBackSeconds: Int = 300) {
        (self.connections, self.admin, self.release, self.logger, self.comeBackSeconds) = (connections, admin, release, logger, comeBackSeconds)
    }

    public func latest() -> AgentRolloutStatus? { status.withLock { $0 } }

    public func start(actor: String) async throws -> AgentRolloutStatus {
        guard let version = release.release, let directory = release.directory else {
            throw AirlockError.invalidArgument("this daemon was not started from a release folder (<prefix>/releases/<version>/bin/airlockd): there is no agent release to roll out")
        }
        guard let manifest = FileManager.default.contents(atPath: directory + "/manifest.json"),
              FileManager.default.isReadableFile(atPath: directory + "/bin/airlock-agent") else {
            throw AirlockError.invalidArgument("release \(version) has no manifest.json or bin/airlock-agent in \(directory)")
        }
        let nodes = connections.connected()
        guard !nodes.isEmpty else { throw AirlockError.invalidArgument("no node agent is connected") }
        let begun = try status.withLock { current -> AgentRolloutStatus in
            if current?.state == .running { throw AirlockError.invalidArgument("a roll-out of release \(current!.release) is already running") }
            let steps = nodes.map { node in
                AgentRolloutStatus.NodeStep(nodeID: node.id, nodeName: node.name, from: node.agentVersion,
                                            state: node.agentVersion == version ? .skipped : .pending,
                                            message: node.agentVersion == version ? "already on \(version)" : nil)
            }
            current = AgentRolloutStatus(release: version, startedBy: actor, startedAt: .now(), state: .running, nodes: steps)
            return current!
        }
        try await admin.auditAgentRollout(actor: actor, action: "upgrade.agents_start", target: version,
                                          detail: ["nodes": nodes.map(\.name).joined(separator: ",")])
        logger.notice("agent roll-out started", metadata: ["release": "\(version)", "nodes": "\(nodes.count)"])
        Task { await self.run(version: version, manifest: manifest, binary: directory + "/bin/airlock-agent", actor: actor) }
        return begun
    }

    private func run(version: String, manifest: Data, binary: String, actor: String) async {
        let steps = latest()?.nodes ?? []
        for (index, step) in steps.enumerated() where step.state == .pending {
            let failure = await upgrade(step, version: version, manifest: manifest, binary: binary) { state, message in
                self.update(index, state, message)
            }
            let detail = ["node": step.nodeName, "from": step.from, "to": version, "ok": "\(failure == nil)"]
                .merging(failure.map { ["error": $0.clipped(to: 300)] } ?? [:]) { $1 }
            try? await admin.auditAgentRollout(actor: actor, action: "upgrade.agent", target: version, detail: detail)
            if let failure {
                update(index, .failed, failure)
                logger.error("agent roll-out stopped", metadata: ["node": "\(step.nodeName)", "error": "\(failure)"])
                finish(.failed, from: index + 1)
                try? await admin.auditAgentRollout(actor: actor, action: "upgrade.agents_failed", target: version,
                                                  detail: ["node": step.nodeName, "error": failure.clipped(to: 300)])
                return
            }
            update(index, .upgraded, "registered again on \(version)")
            logger.notice("node agent upgraded", metadata: ["node": "\(step.nodeName)", "release": "\(version)"])
        }
        finish(.done, from: steps.count)
        try? await admin.auditAgentRollout(actor: actor, action: "upgrade.agents_done", target: version, detail: [:])
    }

    /// Offers the release to one node and waits for it to come back on it; nil, or why not.
    private func upgrade(_ step: AgentRolloutStatus.NodeStep, version: String, manifest: Data, binary: String,
                         progress: (AgentRolloutStatus.NodeStep.State, String) -> Void) async -> String? {
        var offer = Airlock_Node_V1_UpgradeAgent()
        offer.signedManifest = manifest
        offer.version = version
        progress(.sending, "sending the agent binary")
        guard let command = connections.sendCommand(step.nodeID, .upgradeAgent(offer)) else { return "the node is not connected" }
        guard let file = FileHandle(forReadingAtPath: binary) else { return "cannot read \(binary)" }
        defer { try? file.close() }
        var offset: UInt64 = 0
        while true {
            let data = (try? file.read(upToCount: Self.chunkBytes)) ?? Data()
            var chunk = Airlock_Node_V1_AgentBinaryChunk()
            chunk.commandID = command
            chunk.offset = offset
            chunk.data = data
            chunk.last = data.count < Self.chunkBytes
            var message = Airlock_Node_V1_ControlMessage()
            message.agentBinaryChunk = chunk
            guard connections.send(step.nodeID, message) else { return "the node disconnected while the binary was sent" }
            offset += UInt64(data.count)
            if chunk.last { break }
            await Task.yield()
        }
        progress(.waiting, "waiting for the agent to check, stage, drain, restart and register again")
        let deadline = ContinuousClock.now + .seconds(comeBackSeconds)
        while ContinuousClock.now < deadline {
            if let answer = connections.takeResult(command), !answer.ok {
                return "the agent refused the release: \(answer.message.clipped(to: 300))"
            }
            if connections.connected().first(where: { $0.id == step.nodeID })?.agentVersion == version { return nil }
            try? await Task.sleep(for: .milliseconds(250))
        }
        return "the node did not register again on \(version) within \(comeBackSeconds) s"
    }

    private func update(_ index: Int, _ state: AgentRolloutStatus.NodeStep.State, _ message: String?) {
        status.withLock { status in
            status?.nodes[index].state = state
            status?.nodes[index].message = message
        }
    }

    private func finish(_ state: AgentRolloutStatus.State, from index: Int) {
        status.withLock { status in
            guard var current = status else { return }
            for later in index..<current.nodes.count where current.nodes[later].state == .pending {
                current.nodes[later].state = .notReached
            }
            current.state = state
            current.finishedAt = .now()
            status = current
        }
    }
}
