import AirlockAdmission
import AirlockCore
import AirlockScheduler
import Metrics

/// What the request path records for `/metrics`, through swift-metrics (the daemon bootstraps
/// the Prometheus backend; without it, as in tests, these are no-ops). Label values are only
/// ever a served model, an enum case or a node name — `MetricFamily` lists them.
enum GatewayMetrics {
    /// `model` is nil until the request named a model some node serves: a client cannot mint
    /// label values by asking for models that do not exist.
    static func outcome(_ outcome: RequestOutcome, model: String?) {
        Counter(label: MetricFamily.requests.name, dimensions: [
            ("model", model ?? MetricFamily.otherValue), ("outcome", outcome.rawValue),
        ]).increment()
    }

    static func billed(_ usage: TokenUsage, model: String) {
        for (type, count) in [("prompt", usage.promptTokens), ("completion", usage.completionTokens)] where count > 0 {
            Counter(label: MetricFamily.tokens.name, dimensions: [("model", model), ("type", type)]).increment(by: count)
        }
    }

    static func refused(_ refusal: AdmissionRefusal) {
        Counter(label: MetricFamily.admissionRefusals.name, dimensions: [
            ("layer", refusal.layer.rawValue), ("reason", refusal.limit.rawValue),
        ]).increment()
    }

    /// Refused by the org's monthly cap, which sits beside the admission layers.
    static func refusedByGuardrail() {
        Counter(label: MetricFamily.admissionRefusals.name, dimensions: [("layer", "org"), ("reason", "monthly_cap")]).increment()
    }

    static func planned(_ plan: PlacementPlan, model: String) {
        let decision = plan.overloaded ? "shed" : plan.nodes.isEmpty ? "no_node" : plan.affinity ? "affinity" : "placed"
        Counter(label: MetricFamily.schedulerDecisions.name, dimensions: [("model", model), ("decision", decision)]).increment()
    }

    static func failedOver(from node: LiveNode, model: String) {
        Counter(label: MetricFamily.failovers.name, dimensions: [("model", model), ("node", node.name)]).increment()
    }
}
