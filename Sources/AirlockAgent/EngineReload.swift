import AirlockNodeProtocol
import Foundation

/// `ReloadModel` from the control plane (`airlock node reload`): restart the supervised engine —
/// to load new weights or a new engine build — without losing a request. The node is drained
/// first (announced like maintenance, so the control plane stops sending work within a
/// second), the engine is left to finish what it has (its own /metrics says when nothing runs
/// or waits; without figures, the whole drain period), then restarted, and the drain is lifted
/// once it answers /health again.
extension AgentSession {
    /// How long a restarted engine may take to load its model before the reload is reported as
    /// failed; the node then stays out of work through its heartbeats (engine not ready).
    static let reloadHealthLimit: Duration = .seconds(900)

    func reloadEngine(commandID: UInt64) async {
        guard let engine = settings.engine else {
            return reply(commandID, ok: false, "this agent does not start its engine (run it with --engine-command); restart the engine on the host")
        }
        guard !reloading.exchange(true, ordering: .relaxed) else {
            return reply(commandID, ok: false, "a reload is already under way")
        }
        defer { reloading.store(false, ordering: .relaxed) }
        logger.notice("engine reload: draining, then restarting the engine")
        await waitUntilEngineIdle(within: settings.drain)
        await engine.restart()
        let loading = ContinuousClock.now
        while ContinuousClock.now - loading < Self.reloadHealthLimit {
            if await engineHealthy() {
                logger.notice("engine reload: the engine answers again; taking work")
                return reply(commandID, ok: true, "engine restarted and healthy")
            }
            try? await Task.sleep(for: .seconds(1))
        }
        reply(commandID, ok: false, "the engine did not answer /health within \(Self.reloadHealthLimit) after the restart")
    }

    /// After the node was announced as draining (reload, shutdown): until the engine's own
    /// figures show nothing running or waiting, at most `limit` (all of it for an engine without
    /// figures). The first 2 s always pass: the drain reaches the control plane within a second,
    /// and a request it placed just before may still be on its way.
    public func waitUntilEngineIdle(within limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        try? await Task.sleep(for: min(.seconds(2), limit))
        while ContinuousClock.now < deadline {
            if let scrape = await EngineMetrics.scrape(engineClient, engineURL: settings.engineURL),
               let running = scrape.running, let waiting = scrape.waiting, running + waiting == 0 {
                return
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    func reply(_ commandID: UInt64, ok: Bool, _ message: String) {
        if !ok { logger.warning("command failed", metadata: ["command": "\(commandID)", "reason": "\(message)"]) }
        var result = Airlock_Node_V1_CommandResult()
        result.commandID = commandID
        result.ok = ok
        result.message = message
        var reply = Airlock_Node_V1_AgentMessage()
        reply.commandResult = result
        outbox.withLock { $0.append(reply) }
    }
}
