import AirlockCore

/// The registry's nodes indexed for picking: by model, then zone, then lane (each org's own
/// nodes, and the shared pool). Immutable; rebuilt when a node registers or leaves, so a pick
/// walks only the nodes that could serve it.
public final class Placement: Sendable {
    struct Lanes: Sendable {
        var owned: [OrgID: [LiveNode]] = [:]
        var shared: [LiveNode] = []
    }

    /// model → zone → lanes.
    let pools: [String: [String: Lanes]]
    /// Every model some registered node serves (in any state), sorted.
    public let models: [String]

    init(nodes: [LiveNode]) {
        var pools: [String: [String: Lanes]] = [:]
        for node in nodes.sorted(by: { $0.name < $1.name }) {
            let profile = node.profile
            for model in Set(profile.models) {
                var lanes = pools[model, default: [:]][profile.zone, default: Lanes()]
                if let org = node.orgID { lanes.owned[org, default: []].append(node) } else { lanes.shared.append(node) }
                pools[model, default: [:]][profile.zone] = lanes
            }
        }
        self.pools = pools
        models = pools.keys.sorted()
    }

    /// True if a node `org` may use serves `model` (whatever its state): otherwise the model
    /// does not exist for that org (404), rather than being down (503).
    public func serves(_ model: String, for org: OrgID) -> Bool {
        pools[model]?.values.contains { !$0.shared.isEmpty || $0.owned[org] != nil } ?? false
    }

    /// The models `org` may use: served by shared nodes or by its own.
    public func models(for org: OrgID) -> [String] { models.filter { serves($0, for: org) } }
}
