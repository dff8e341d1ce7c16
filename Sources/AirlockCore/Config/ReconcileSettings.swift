/// How often `airlockd serve` reconciles the counters, the ledger's chains and the issued licence
/// reports on its own: `[reconcile]` in airlock.toml (docs/OPERATIONS.md § Reconciliation).
public struct ReconcileSettings: Equatable, Sendable {
    /// Seconds between runs; 0 turns the job off (`airlock reconcile` still works).
    public var intervalSeconds = 3_600
    /// Whether the job rebuilds drifted counters from the ledger, or only reports them.
    public var repair = true

    public init() {}

    mutating func read(_ section: inout TOMLSection) throws {
        intervalSeconds = try section.int("interval_seconds", in: 0...604_800) ?? intervalSeconds
        if intervalSeconds > 0 && intervalSeconds < 60 {
            throw section.error("interval_seconds", "must be 0 (off) or at least 60, got \(intervalSeconds)")
        }
        repair = try section.bool("repair") ?? repair
        try section.finish()
    }
}
