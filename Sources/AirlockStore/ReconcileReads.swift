import AirlockCore
import GRDB

/// One ledger row as reconciliation reads it: the counters' tally, and when its request finished
/// (`ts + latency_ms`). Admission counted the request between the two, so windows filled at the
/// start times and at the finish times bound what the counters may hold.
public struct UsageSpan: Sendable {
    public var tally: UsageTally
    public var finishedAt: UnixMillis
}

extension Store {
    /// Ledger rows with `ts >= since`, oldest first, with their finish times (uses the ts index).
    public func usageSpans(since: UnixMillis) async throws -> [UsageSpan] {
        try await wrapErrors {
            try await pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT ts, latency_ms, org_id, env_id, key_id, total_tokens FROM usage_ledger WHERE ts >= ? ORDER BY ts
                    """, arguments: [since.value]).map { row in
                    let started = UnixMillis(row["ts"] as Int64)
                    return UsageSpan(
                        tally: UsageTally(timestamp: started, orgID: OrgID(unchecked: row["org_id"]), envID: EnvID(unchecked: row["env_id"]),
                                          keyID: KeyID(unchecked: row["key_id"]), totalTokens: row["total_tokens"]),
                        finishedAt: UnixMillis(started.value + (row["latency_ms"] as Int64)))
                }
            }
        }
    }
}

extension TenancyReader {
    /// When ledger row `seq` was written and its hash; nil when there is no such row.
    public func ledgerRow(seq: Int64) throws -> (timestamp: UnixMillis, hash: String)? {
        try Row.fetchOne(db, sql: "SELECT ts, hash FROM usage_ledger WHERE seq = ?", arguments: [seq]).map {
            (UnixMillis($0["ts"] as Int64), $0["hash"] as String)
        }
    }
}
