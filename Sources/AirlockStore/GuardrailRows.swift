import AirlockCore
import GRDB

extension TenancyWriter {
    /// Sets (or, with nil, removes) an org's guardrail.
    public func setGuardrail(_ guardrail: OrgGuardrail?, org: OrgID) throws {
        guard let guardrail else {
            try db.execute(sql: "DELETE FROM org_guardrails WHERE org_id = ?", arguments: [org.rawValue])
            return
        }
        try db.execute(sql: """
            INSERT INTO org_guardrails (org_id, monthly_spend_micros, monthly_tokens, on_exceed, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (org_id) DO UPDATE SET monthly_spend_micros = excluded.monthly_spend_micros,
                monthly_tokens = excluded.monthly_tokens, on_exceed = excluded.on_exceed, updated_at = excluded.updated_at
            """, arguments: [org.rawValue, guardrail.monthlySpendMicros, guardrail.monthlyTokens, guardrail.onExceed.rawValue,
                             guardrail.updatedAt.value])
    }
}

extension TenancyReader {
    /// Every org with a guardrail, where it stands in the month holding `instant` (read from
    /// `usage_monthly`: one row per org).
    public func budgets(at instant: UnixMillis) throws -> [OrgBudget] {
        let month = UTCCalendar.month(containing: UTCCalendar.day(of: instant)).lowerBound
        return try Row.fetchAll(db, sql: """
            SELECT g.*, COALESCE(o.name, '') AS org_name, COALESCE(m.total_tokens, 0) AS tokens, COALESCE(m.cost_micros, 0) AS cost
            FROM org_guardrails g LEFT JOIN orgs o ON o.id = g.org_id
                 LEFT JOIN usage_monthly m ON m.org_id = g.org_id AND m.month = ?
            ORDER BY org_name, g.org_id
            """, arguments: [month]).map { row in
            let guardrail = OrgGuardrail(orgID: OrgID(unchecked: row["org_id"]), monthlySpendMicros: row["monthly_spend_micros"],
                                         monthlyTokens: row["monthly_tokens"],
                                         onExceed: OrgGuardrail.OnExceed(rawValue: row["on_exceed"]) ?? .refuse,
                                         updatedAt: UnixMillis(row["updated_at"] as Int64))
            return OrgBudget(guardrail: guardrail, orgName: row["org_name"], month: month, tokens: row["tokens"], costMicros: row["cost"])
        }
    }

    /// Whether the audit log already holds `action` about `targetID` (a guardrail's warning is
    /// written once per org and month, whichever process or restart notices it first).
    public func hasAuditRow(action: String, targetID: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM audit_log WHERE action = ? AND target_id = ?)",
                          arguments: [action, targetID]) ?? false
    }
}
