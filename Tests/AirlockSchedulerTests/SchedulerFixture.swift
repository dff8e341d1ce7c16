import AirlockCore
@testable import AirlockScheduler
import AirlockTestSupport
import Synchronization

/// A registry and scheduler on a hand-moved clock, with helpers to bring nodes up.
final class SchedulerFixture: Sendable {
    let clock = ManualClock()
    let registry: NodeRegistry
    let scheduler: Scheduler
    let transitions = TransitionLog()

    init(settings: SchedulerSettings = SchedulerSettings(), registrySettings: RegistrySettings = RegistrySettings()) {
        let clock = clock
        let transitions = transitions
        registry = NodeRegistry(settings: registrySettings, clock: { clock.now.value }) { change in
            transitions.entries.withLock { $0.append(change) }
        }
        scheduler = Scheduler(registry: registry, settings: settings, clock: { clock.now.value })
    }

    /// Registers a node and makes it active with one heartbeat.
    @discardableResult
    func up(_ name: String, model: String = "m", zone: String = "home", org: OrgID? = nil, capacity: Double = 1_000,
            active: Bool = true) -> LiveNode {
        let node = registry.register(
            NodeProfile(id: "node_" + name, name: name, orgID: org, zone: zone, engineURL: "http://127.0.0.1:1",
                        models: [model], capacityTokensPerSecond: capacity),
            operatorDraining: false)
        if active { registry.heartbeat(node.id, engineReady: true, engine: nil) }
        return node
    }

    func plan(_ model: String = "m", org: OrgID, zone: String = "home", reserved: Bool = false, prefix: Int? = nil) -> [String] {
        scheduler.plan(PlacementRequest(model: model, orgID: org, zone: zone, reserved: reserved, prefix: prefix)).nodes.map(\.name)
    }
}

final class TransitionLog: Sendable {
    let entries = Mutex<[NodeTransition]>([])
    func withLock<T>(_ body: ([NodeTransition]) -> T) -> T { entries.withLock { body($0) } }
}
