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

    static func passedOver(_ node: LiveNode, model: String) {
        counter(.nodeSaturated, ("model", model), ("node", node.name)).increment()
    }

    static func requestReadTimedOut() {
        counter(.requestReadTimeouts).increment()
    }

    /// The ledger append of one row: time from hand-over to commit, or a failure.
    static func ledgerAppend(took duration: Duration, failed: Bool) {
        timers.handle(.ledgerAppend) { Timer(label: MetricFamily.ledgerAppend.name) }.record(duration: duration)
        if failed { counter(.ledgerAppendFailures).increment() }
    }

    /// Metric handles already made. Making one goes through the factory's label guard and
    /// registry (about 1.5 µs, five times per served request); a hit here is one lock and one
    /// hash. The daemon bootstraps the backend before it serves, so no handle is made before.
    private static let counters = HandleCache<Counter>()
    private static let timers = HandleCache<Timer>()

    private static func counter(_ family: MetricFamily, _ labels: (String, String)...) -> Counter {
        counters.handle(family, labels.map(\.1)) { Counter(label: family.name, dimensions: labels) }
    }
}

/// Handles by metric family and label values. Label values here are bounded (served models, enum
/// cases, node names), and so is the cache: past `limit` entries handles are made afresh.
private final class HandleCache<Handle: Sendable>: Sendable {
    private let handles = Mutex<[[String]: Handle]>([:])
    private let limit = 4_096

    func handle(_ family: MetricFamily, _ values: [String] = [], make: () -> Handle) -> Handle {
        let key = [family.name] + values
        if let cached = handles.withLock({ $0[key] }) { return cached }
        let made = make()
        handles.withLock { handles in
            if handles.count < limit { handles[key] = made }
        }
        return made
    }
}
