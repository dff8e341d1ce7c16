/// One metric Airlock exposes on `/metrics`: its Prometheus name, type, labels and help text.
/// `MetricFamily.all` is the one list — the gateway records by these names, the exposition
/// writes their `# HELP` lines, and the tests check every name and label against it — so a
/// metric cannot appear on `/metrics` without being declared (and documented) here.
///
/// Label values are bounded by design (docs/OPERATIONS.md § Metrics and logs): catalog models,
/// enum cases, node and zone names. Never a key, org, environment or request id, never a secret.
public struct MetricFamily: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    public var name: String
    public var kind: Kind
    public var labels: [String]
    public var help: String

    public init(_ name: String, _ kind: Kind, labels: [String] = [], help: String) {
        self.name = name
        self.kind = kind
        self.labels = labels
        self.help = help
    }
}

extension MetricFamily {
    // Recorded by the gateway as requests happen.
    public static let requests = MetricFamily(
        "airlock_requests_total", .counter, labels: ["model", "outcome"],
        help: "Inference requests by model (other: not a served model) and outcome (served, refused, engine_failed, interrupted, internal_error).")
    public static let tokens = MetricFamily(
        "airlock_tokens_total", .counter, labels: ["model", "type"],
        help: "Tokens billed to the ledger by model and type (prompt, completion).")
    public static let admissionRefusals = MetricFamily(
        "airlock_admission_refusals_total", .counter, labels: ["layer", "reason"],
        help: "Requests refused by admission, by layer (request, global, org, env, key) and the limit that refused them.")
    public static let schedulerDecisions = MetricFamily(
        "airlock_scheduler_decisions_total", .counter, labels: ["model", "decision"],
        help: "Placement decisions by model: placed, affinity (prefix affinity chose the node), shed (every node at shed_load), no_node.")
    public static let failovers = MetricFamily(
        "airlock_failovers_total", .counter, labels: ["model", "node"],
        help: "A node failed before its first byte and the request moved to the next node; node is the one that failed.")
    public static let nodeSaturated = MetricFamily(
        "airlock_node_saturated_total", .counter, labels: ["model", "node"],
        help: "A request passed over the node because it already had gateway.max_connections_per_engine requests in flight.")
    public static let requestReadTimeouts = MetricFamily(
        "airlock_request_read_timeouts_total", .counter,
        help: "HTTPS requests whose head and body did not arrive within api.request_read_timeout_seconds; the connection was closed.")
    public static let ledgerAppend = MetricFamily(
        "airlock_ledger_append_duration_seconds", .histogram,
        help: "Time from handing a usage row to the ledger until its group commit is durable (or failed).")
    public static let ledgerAppendFailures = MetricFamily(
        "airlock_ledger_append_failures_total", .counter,
        help: "Usage rows the database refused, kept in ledger-unwritten.jsonl for replay.")

    // Read at scrape time.
    public static let nodeState = MetricFamily(
        "airlock_node_state", .gauge, labels: ["node", "zone", "state"],
        help: "1 per node, labelled with its live state now (joining, active, draining, dead); a change replaces the series.")
    public static let nodeInFlight = MetricFamily(
        "airlock_node_requests_in_flight", .gauge, labels: ["node"],
        help: "Requests this appliance has sent to the node that have not finished.")
    public static let nodeTokensPerSecond = MetricFamily(
        "airlock_node_engine_tokens_per_second", .gauge, labels: ["node"],
        help: "The node engine's generation rate at its last heartbeat.")
    public static let nodeGPUTemperature = MetricFamily(
        "airlock_node_gpu_temperature_max_celsius", .gauge, labels: ["node"],
        help: "The node's hottest GPU at its last metrics report.")
    public static let nodeGPUUtilisation = MetricFamily(
        "airlock_node_gpu_utilisation_ratio", .gauge, labels: ["node"],
        help: "The node's GPUs' mean utilisation (0-1) at its last metrics report.")
    public static let nodeGPUMemoryUsed = MetricFamily(
        "airlock_node_gpu_memory_used_bytes", .gauge, labels: ["node"],
        help: "GPU memory in use on the node, summed over its GPUs, at its last metrics report.")
    public static let nodeGPUMemoryTotal = MetricFamily(
        "airlock_node_gpu_memory_total_bytes", .gauge, labels: ["node"],
        help: "GPU memory on the node, summed over its GPUs, at its last metrics report.")
    public static let ledgerRows = MetricFamily(
        "airlock_ledger_committed_rows_total", .counter,
        help: "Usage rows committed to the ledger since the daemon started.")
    public static let ledgerCommits = MetricFamily(
        "airlock_ledger_commits_total", .counter,
        help: "Ledger group commits (one transaction and fsync each) since the daemon started.")
    public static let ledgerBatchRows = MetricFamily(
        "airlock_ledger_batch_rows", .gauge,
        help: "Average rows per ledger group commit since the daemon started (rows / commits).")
    public static let licenseState = MetricFamily(
        "airlock_license_state", .gauge, labels: ["state"],
        help: "1, labelled with the licence state now (evaluation, not_yet_valid, active, grace, expired, invalid).")
    public static let licenseRemaining = MetricFamily(
        "airlock_license_remaining_seconds", .gauge,
        help: "Seconds until inference stops: to expiry when active, to the end of grace in grace, 0 when expired. Absent without a licence.")

    /// Every metric, in the order the docs list them.
    public static let all: [MetricFamily] = [
        requests, tokens, admissionRefusals, schedulerDecisions, failovers, nodeSaturated, requestReadTimeouts, ledgerAppend,
        ledgerAppendFailures,
        nodeState, nodeInFlight, nodeTokensPerSecond, nodeGPUTemperature, nodeGPUUtilisation, nodeGPUMemoryUsed, nodeGPUMemoryTotal,
        ledgerRows, ledgerCommits, ledgerBatchRows, licenseState, licenseRemaining,
    ]

    /// The `other` label value: what a label becomes when its value is not one Airlock may expose.
    public static let otherValue = "other"
}
