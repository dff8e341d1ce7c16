import AirlockCore
import AirlockStore

/// The read-only side of administration: verifying the hash chains and reading the audit trail.
///
/// Kept apart from ``AdminActions`` because it needs the database only — not the key-hashing
/// secret — so an auditor can verify a copy of `airlock.sqlite` without the appliance's secrets.
public struct LedgerAudit: Sendable {
    let store: Store

    public init(store: Store) { self.store = store }

    /// Recomputes the usage ledger's hash chain; names the first bad row if there is one.
    public func verifyLedger() async throws -> ChainReport {
        try await store.verifyLedger()
    }

    /// Recomputes the audit log's hash chain; names the first bad row if there is one.
    public func verifyAuditLog() async throws -> ChainReport {
        try await store.verifyAuditLog()
    }

    /// The newest `limit` audit rows (oldest first), optionally about one target id.
    public func auditTrail(targetID: String?, limit: Int) async throws -> [AuditEntry] {
        try await store.read { try $0.auditTrail(targetID: targetID, limit: limit) }
    }
}

extension LedgerAudit {
    /// The most buckets one usage query may ask for: enough for a month by the hour.
    public static let maxUsageBuckets: Int64 = 1_000

    /// Served usage per bucket and group (the ledger's view), for one org or all.
    public func usageSeries(from: UnixMillis, to: UnixMillis, bucketSeconds: Int64, groupBy: UsageGrouping,
                            org: OrgID?) async throws -> [UsagePoint] {
        guard to > from else { throw AirlockError.invalidArgument("'to' must be after 'from'") }
        guard bucketSeconds >= 60 else { throw AirlockError.invalidArgument("a bucket is at least 60 seconds") }
        guard (to.value - from.value) / (bucketSeconds * 1000) <= Self.maxUsageBuckets else {
            throw AirlockError.invalidArgument("at most \(Self.maxUsageBuckets) buckets per query: widen the bucket or narrow the range")
        }
        return try await store.read {
            try $0.usageSeries(from: from, to: to, bucketMillis: bucketSeconds * 1000, groupBy: groupBy, org: org)
        }
    }

    /// A page of the audit log, newest first (see `TenancyReader.auditPage`).
    public func auditPage(beforeSeq: Int64?, limit: Int, actionPrefix: String?, actor: String?) async throws -> [AuditRecord] {
        try await store.read { try $0.auditPage(beforeSeq: beforeSeq, limit: limit, actionPrefix: actionPrefix, actor: actor) }
    }
}
