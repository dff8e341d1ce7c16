import AirlockAdmission
import AirlockCore
import AirlockScheduler
import Metrics
import Synchronization

/// What the request path records for `/metrics`, through swift-metrics (the daemon bootstraps
/// the Prometheus backend; without it, as in tests, these are no-ops). Label values are only
/// ever a served model, an enum case or a node name — `MetricFamily` lists them.
enum GatewayMetrics {
    /// `model` is nil until the request named a model some node serves: a client cannot mint
    /// label values by asking for models that do not exist.
    static func outcome(_ outcome: RequestOutcome, model: String?) {
        counter(.requests, ("model", model ?? MetricFamily.otherValue), ("outcome", outcome.rawValue)).increment()
    }

    static func billed(_ usage: TokenUsage, model: String) {
        for (type, count) in [("prompt", usage.promptTokens), ("completion", usage.completionTokens)] where count > 0 {
            counter(.tokens, ("model", model), ("type", type)).increment(by: count)
        }
    }

    static func refused(_ refusal: AdmissionRefusal) {
        counter(.admissionRefusals, ("layer", refusal.layer.rawValue), ("reason", refusal.limit.rawValue)).increment()
    }

    /// Refused by the org's monthly cap, which sits beside the admission layers.
    static func refusedByGuardrail() {
        counter(.admissionRefusals, ("layer", "org"), ("reason", "monthly_cap")).increment()
    }

    static func planned(_ plan: PlacementPlan, model: String) {
        let decision = plan.overloaded ? "shed" : plan.nodes.isEmpty ? "no_node" : plan.affinity ? "affinity" : "placed"
        counter(.schedulerDecisions, ("model", model), ("decision", decision)).increment()
    }

    static func failedOver(from node: LiveNode, model: String) {
        counter(.failovers, ("model", model), ("node", node.name)).increment()
    }

    /// Counters already made, by family and label values. Making one goes through the factory's
    /// label guard and registry (about 1.5 µs, four times per served request); a hit here is
    /// one lock and one hash. Label values here are bounded (served models, enum cases, node
    /// names), and so is the cache: past `cacheLimit` entries counters are made afresh.
    private static let cache = Mutex<[CounterKey: Counter]>([:])
    private static let cacheLimit = 4_096

    private struct CounterKey: Hashable {
        var family: String
        var first: String
        var second: String
    }

    private static func counter(_ family: MetricFamily, _ first: (String, String), _ second: (String, String)) -> Counter {
        let key = CounterKey(family: family.name, first: first.1, second: second.1)
        if let cached = cache.withLock({ $0[key] }) { return cached }
        let made = Counter(label: family.name, dimensions: [first, second])
        cache.withLock { cache in
            if cache.count < cacheLimit { cache[key] = made }
        }
        return made
    }
}
