import AirlockCore
import GRDB

extension Store {
    /// UTC days since `sinceDay` on which `usage_daily` is not the ledger summed (a group missing,
    /// extra or with other sums). Both sides read in one transaction.
    public func summaryDaysDiffering(sinceDay: Int64) async throws -> [Int64] {
        try await read { reader in try UsageSummaryCheck.differingDays(reader.db, sinceDay: sinceDay) }
    }

    /// Rewrites `usage_daily` for `days` from the ledger, and `usage_monthly` for their months
    /// from `usage_daily`, in one write transaction (so no append interleaves). Derived tables
    /// only: the ledger is never touched. Returns the days that still differed when rewritten.
    public func rebuildSummaries(days: [Int64]) async throws -> [Int64] {
        try await write { writer in
            let db = writer.db
            let stillWrong = try UsageSummaryCheck.differingDays(db, sinceDay: days.min() ?? 0).filter(days.contains)
            let millis = UTCCalendar.millisPerDay
            for day in stillWrong {
                try db.execute(sql: "DELETE FROM usage_daily WHERE day = ?", arguments: [day])
                try db.execute(sql: """
                    INSERT INTO usage_daily
                    SELECT ts / \(millis), org_id, env_id, key_id, model, zone, count(*), sum(prompt_tokens), sum(completion_tokens),
                           sum(total_tokens), sum(cost_micros), sum(token_source = 'estimated'), min(seq), max(seq)
                    FROM usage_ledger WHERE ts >= ? AND ts < ? GROUP BY org_id, env_id, key_id, model, zone
                    """, arguments: [day * millis, (day + 1) * millis])
            }
            for month in Set(stillWrong.map { UTCCalendar.month(containing: $0) }) {
                try db.execute(sql: "DELETE FROM usage_monthly WHERE month = ?", arguments: [month.lowerBound])
                try db.execute(sql: """
                    INSERT INTO usage_monthly SELECT org_id, ?, sum(requests), sum(total_tokens), sum(cost_micros)
                    FROM usage_daily WHERE day >= ? AND day < ? GROUP BY org_id
                    """, arguments: [month.lowerBound, month.lowerBound, month.upperBound])
            }
            return stillWrong
        }
    }
}

enum UsageSummaryCheck {
    static func differingDays(_ db: Database, sinceDay: Int64) throws -> [Int64] {
        let millis = UTCCalendar.millisPerDay
        let ledger = """
            SELECT ts / \(millis) AS day, org_id, env_id, key_id, model, zone, count(*) AS requests, sum(total_tokens) AS tokens,
                   sum(cost_micros) AS cost FROM usage_ledger WHERE ts >= \(sinceDay * millis)
            GROUP BY 1, org_id, env_id, key_id, model, zone
            """
        let summary = """
            SELECT day, org_id, env_id, key_id, model, zone, requests, total_tokens, cost_micros FROM usage_daily WHERE day >= \(sinceDay)
            """
        return try Int64.fetchAll(db, sql: """
            SELECT DISTINCT day FROM (\(ledger) EXCEPT \(summary) UNION ALL SELECT * FROM (\(summary) EXCEPT \(ledger))) ORDER BY day
            """)
    }
}
