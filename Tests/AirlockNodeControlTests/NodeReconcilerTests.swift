import AirlockAdmin
import AirlockCore
import AirlockIdentity
import AirlockNodeProtocol
import AirlockScheduler
import AirlockStore
import AirlockTestSupport
import Logging
import Testing

@testable import AirlockNodeControl

/// The reconciler against a real SQLite store: node rows and the catalog, changed through the
/// admin actions as the CLI changes them, reach the registry within one pass.
@Suite struct NodeReconcilerTests {
    let dir = TemporaryDirectory()
    let clock = ManualClock()
    let admin: AdminActions
    let registry: NodeRegistry
    let reconciler: NodeReconciler
    let connections = NodeConnections()
    let actor = AdminActor("test:admin")

    init() throws {
        let store = try Store(dataDirectory: dir.path)
        let admin = AdminActions(store: store, hasher: try KeyHasher.loadOrCreate(dataDirectory: dir.path),
                                 clock: clock.wallClock, rotationGraceSeconds: 0)
        let clock = clock
        registry = NodeRegistry(clock: { clock.now.value })
        reconciler = NodeReconciler(admin: admin, catalog: { Set(try await admin.listModels().map(\.name)) }, registry: registry,
                                    connections: connections, logger: Logger(label: "test"))
        self.admin = admin
    }

    /// An enrolled node with an active live node serving `models`.
    private func enrolled(_ name: String, models: [String]) async throws -> LiveNode {
        let issued = try await admin.enrollNode(name: name, org: nil, zone: nil, by: actor)
        let (node, _) = try await admin.redeemEnrolment(token: issued.token) { _ in ("PEM", "ab12") }
        return up(node.id.rawValue, name, models)
    }

    @discardableResult
    private func up(_ id: String, _ name: String, _ models: [String]) -> LiveNode {
        let live = registry.register(NodeProfile(id: id, name: name, orgID: nil, zone: "home", engineURL: "http://127.0.0.1:1",
                                                 models: models, capacityTokensPerSecond: 1_000), operatorDraining: false)
        registry.heartbeat(id, engineReady: true, engine: nil)
        return live
    }

    @Test func developmentEnginesWithoutRowsAreLeftAlone() async throws {
        let engine = up("static:sim-1", "sim-1", ["m"])
        await reconciler.reconcile()
        await reconciler.reconcile()
        #expect(registry.node(id: engine.id) === engine)
        #expect(engine.state == .active)
    }

    @Test func revokedNodesLeaveTheRegistryAndDrainsReachIt() async throws {
        _ = try await admin.addModel(name: "m", by: actor)
        let a = try await enrolled("gpu-a", models: ["m"])
        let b = try await enrolled("gpu-b", models: ["m"])
        await reconciler.reconcile()
        #expect(a.state == .active && b.state == .active)

        _ = try await admin.setNodeDraining("gpu-a", true, by: actor)
        _ = try await admin.revokeNode("gpu-b", by: actor)
        await reconciler.reconcile()
        #expect(a.state == .draining && a.drainReasons == .operatorRequest)
        #expect(registry.node(id: b.id) == nil && b.state == .dead)

        _ = try await admin.setNodeDraining("gpu-a", false, by: actor)
        await reconciler.reconcile()
        #expect(a.state == .active)
    }

    @Test func modelsRemovedFromTheCatalogAreNoLongerOffered() async throws {
        _ = try await admin.addModel(name: "m", by: actor)
        _ = try await admin.addModel(name: "n", by: actor)
        let node = try await enrolled("gpu-a", models: ["m", "n"])
        let engine = up("static:sim-1", "sim-1", ["n"])
        await reconciler.reconcile()
        #expect(registry.placement.models == ["m", "n"])

        _ = try await admin.removeModel(name: "n", by: actor)
        await reconciler.reconcile()
        #expect(node.profile.models == ["m"] && node.state == .active)
        #expect(engine.profile.models == ["n"], "the development list is not checked against the catalog")
        let org = OrgID.generate()
        #expect(registry.placement.models(for: org) == ["m", "n"])
        #expect(registry.placement.serves("m", for: org))
    }

    @Test func anEngineReloadReachesAConnectedAgentOnceAndOldRequestsAreNotReplayed() async throws {
        _ = try await admin.addModel(name: "m", by: actor)
        let node = try await enrolled("gpu-a", models: ["m"])
        _ = try await admin.requestEngineReload("gpu-a", by: actor)  // before this daemon started
        try await reconciler.prime()
        let (_, stream) = connections.open(node.id)
        _ = try await admin.requestEngineReload("gpu-a", by: actor)  // before its first pass
        await reconciler.reconcile()
        await reconciler.reconcile()
        connections.close(node.id, reason: "test over")
        var reloads = 0
        for await item in stream {
            if case let .success(message) = item, case .reloadModel? = message.command.action { reloads += 1 }
        }
        #expect(reloads == 1)
    }

    @Test func onlyAnEnrolledNodeCanBeAskedToReload() async throws {
        let pending = try await admin.enrollNode(name: "gpu-p", org: nil, zone: nil, by: actor)
        await #expect(throws: AirlockError.self) { try await admin.requestEngineReload("gpu-p", by: actor) }
        _ = try await admin.revokeNode(pending.node.id.rawValue, by: actor)
        await #expect(throws: AirlockError.self) { try await admin.requestEngineReload("gpu-p", by: actor) }
        #expect(try await admin.node("gpu-p").reloadRequests == 0)
    }
}
