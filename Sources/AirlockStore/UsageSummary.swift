import AirlockCore
import GRDB

extension TenancyReader {
    /// Totals for rows with `from` ≤ ts < `to` (Unix milliseconds), by org and model. With
    /// `throughSeq`, only rows up to that seq: what a report issued at that head stated, as
    /// reconciliation recomputes it (rows appended later, even inside the range, left out).
    public func usageSummary(from: UnixMillis, to: UnixMillis, throughSeq: Int64 = .max) throws -> UsageSummary {
        let lines = try Row.fetchAll(db, sql: """
            SELECT l.org_id, COALESCE(o.name, '') AS org_name, l.model, count(*) AS requests,
                   sum(l.prompt_tokens) AS prompt_tokens, sum(l.completion_tokens) AS completion_tokens,
                   sum(l.total_tokens) AS total_tokens, sum(l.token_source = 'estimated') AS estimated
            FROM usage_ledger l LEFT JOIN orgs o ON o.id = l.org_id
            WHERE l.ts >= ? AND l.ts < ? AND l.seq <= ?
            GROUP BY l.org_id, l.model ORDER BY org_name, l.org_id, l.model
            """, arguments: [from.value, to.value, throughSeq]).map { row in
            UsageSummary.Line(orgID: row["org_id"], orgName: row["org_name"], model: row["model"], requests: row["requests"],
                              promptTokens: row["prompt_tokens"], completionTokens: row["completion_tokens"],
                              totalTokens: row["total_tokens"], estimatedRequests: row["estimated"])
        }
        let range = try Row.fetchOne(db, sql: """
            SELECT count(*) AS n, min(seq) AS first, max(seq) AS last FROM usage_ledger WHERE ts >= ? AND ts < ? AND seq <= ?
            """, arguments: [from.value, to.value, throughSeq])
        let head = try ChainHead.read(table: "usage_ledger", db: db)
        return UsageSummary(lines: lines, rows: range?["n"] ?? 0, firstSeq: range?["first"], lastSeq: range?["last"],
                            headSeq: head.seq, headHash: head.hash)
    }
}

extension TenancyReader {
    /// The latest time the appliance has recorded anything (a ledger or audit row). Both tables
    /// are append-only and hash-chained, so this is a high-water mark of the wall clock that
    /// turning the clock back cannot lower — what licence validity is judged against.
    public func latestRecordedTime() throws -> UnixMillis? {
        let ledger = try Int64.fetchOne(db, sql: "SELECT max(ts) FROM usage_ledger")
        let audit = try Int64.fetchOne(db, sql: "SELECT max(ts) FROM audit_log")
        return [ledger, audit].compactMap { $0 }.max().map(UnixMillis.init)
    }
}

extension TenancyReader {
    /// Served requests and tokens per `bucketMillis` and group in [from, to), optionally for one
    /// org only (an org-admin's view). Uses the ledger's `ts` index; groups are summed in SQL.
    public func usageSeries(from: UnixMillis, to: UnixMillis, bucketMillis: Int64, groupBy: UsageGrouping,
                            org: OrgID? = nil) throws -> [UsagePoint] {
        precondition(bucketMillis > 0)
        let (group, label): (String, String) = switch groupBy {
        case .org: ("l.org_id", "COALESCE(o.name, l.org_id)")
        case .env: ("l.env_id", "COALESCE(o.name, l.org_id) || '/' || COALESCE(e.name, l.env_id)")
        case .model: ("l.model", "l.model")
        case .zone: ("l.zone", "l.zone")
        }
        return try Row.fetchAll(db, sql: """
            SELECT (l.ts / ?1) * ?1 AS bucket, \(group) AS grp, \(label) AS label, count(*) AS requests,
                   sum(l.prompt_tokens) AS prompt, sum(l.completion_tokens) AS completion, sum(l.total_tokens) AS total
            FROM usage_ledger l LEFT JOIN orgs o ON o.id = l.org_id LEFT JOIN environments e ON e.id = l.env_id
            WHERE l.ts >= ?2 AND l.ts < ?3 AND (?4 IS NULL OR l.org_id = ?4)
            GROUP BY bucket, grp ORDER BY bucket, label
            """, arguments: [bucketMillis, from.value, to.value, org?.rawValue]).map { row in
            UsagePoint(bucketStart: UnixMillis(row["bucket"] as Int64), group: row["grp"], label: row["label"],
                       requests: row["requests"], promptTokens: row["prompt"], completionTokens: row["completion"],
                       totalTokens: row["total"])
        }
    }
}
