import AirlockCore
import GRDB

extension TenancyReader {
    /// A chargeback report over [from, to), grouped by `groupBy`, optionally for one org only.
    /// Whole UTC days come from `usage_daily`, the partial days at either end from the ledger's
    /// `ts` index, so an org-month costs a few hundred summary rows whatever the traffic; all of
    /// it in one read transaction, with the chain head it saw.
    public func chargebackReport(from: UnixMillis, to: UnixMillis, groupBy: [ReportDimension], org: OrgID? = nil) throws -> ChargebackReport {
        precondition(from < to)
        let day = UTCCalendar.millisPerDay
        // Whole days inside the period; the ledger covers [from, fullStart) and [fullEnd, to).
        var fullStart = from.value.floorDiv(day) + (from.value % day == 0 ? 0 : 1)
        var fullEnd = to.value.floorDiv(day)
        if fullStart >= fullEnd { (fullStart, fullEnd) = (0, 0) }
        let edges = fullStart == fullEnd ? (from.value, to.value, to.value, to.value)
            : (from.value, fullStart * day, fullEnd * day, to.value)
        let dimensions = ReportDimension.allCases.filter(groupBy.contains)
        let columns = dimensions.map(\.column)
        let select = (columns + dimensions.flatMap(\.nameColumn)).joined(separator: ", ")
        // Spelled out rather than `(:org IS NULL OR …)`, which SQLite cannot turn into a search of
        // `usage_daily`'s primary key: an org's month is then a range of its own rows.
        let orgFilter = org == nil ? "" : "AND org_id = :org"
        let rows = try Row.fetchAll(db, sql: """
            WITH src AS (
                SELECT day, org_id, env_id, key_id, model, zone, requests, prompt_tokens, completion_tokens, total_tokens,
                       cost_micros, estimated_requests, first_seq, last_seq
                FROM usage_daily WHERE day >= :fullStart AND day < :fullEnd \(orgFilter)
                UNION ALL
                \(Self.ledgerPart) WHERE ts >= :a AND ts < :b \(orgFilter)
                UNION ALL
                \(Self.ledgerPart) WHERE ts >= :c AND ts < :d \(orgFilter)
            )
            SELECT \(select.isEmpty ? "" : select + ",") sum(s.requests) AS requests, sum(s.prompt_tokens) AS prompt,
                   sum(s.completion_tokens) AS completion, sum(s.total_tokens) AS total, sum(s.cost_micros) AS cost,
                   sum(s.estimated_requests) AS estimated, min(s.first_seq) AS first, max(s.last_seq) AS last
            FROM src s LEFT JOIN orgs o ON o.id = s.org_id LEFT JOIN environments e ON e.id = s.env_id
                 LEFT JOIN api_keys k ON k.id = s.key_id
            \(columns.isEmpty ? "" : "GROUP BY " + columns.joined(separator: ", ") + " ORDER BY " + columns.joined(separator: ", "))
            """, arguments: ["fullStart": fullStart, "fullEnd": fullEnd, "org": org?.rawValue,
                             "a": edges.0, "b": edges.1, "c": edges.2, "d": edges.3])
            .filter { ($0["requests"] as Int64?) != nil }
        let lines = rows.map { Self.line($0, dimensions) }
        let book = try priceBook()
        let head = try ChainHead.read(table: "usage_ledger", db: db)
        return ChargebackReport(
            from: from, to: to, groupBy: dimensions, currency: book.versions.last?.table.currency, lines: lines,
            reservations: try reservationCharges(from: from, to: to, org: org, book: book),
            rows: lines.reduce(0) { $0 + $1.requests }, firstSeq: rows.compactMap { $0["first"] as Int64? }.min(),
            lastSeq: rows.compactMap { $0["last"] as Int64? }.max(), headSeq: head.seq, headHash: head.hash)
    }

    private static let ledgerPart = """
        SELECT ts / 86400000, org_id, env_id, key_id, model, zone, 1, prompt_tokens, completion_tokens, total_tokens,
               cost_micros, token_source = 'estimated', seq, seq FROM usage_ledger
        """

    private static func line(_ row: Row, _ dimensions: [ReportDimension]) -> ChargebackReport.Line {
        var line = ChargebackReport.Line(requests: row["requests"], promptTokens: row["prompt"], completionTokens: row["completion"],
                                         totalTokens: row["total"], costMicros: row["cost"], estimatedRequests: row["estimated"])
        for dimension in dimensions {
            switch dimension {
            case .org: (line.orgID, line.orgName) = (row["org_id"], row["org_name"])
            case .env: (line.envID, line.envName) = (row["env_id"], row["env_name"])
            case .key: (line.keyID, line.keyName) = (row["key_id"], row["key_name"])
            case .model: line.model = row["model"]
            case .zone: line.zone = row["zone"]
            case .day: line.day = UTCCalendar.isoDate(row["day"])
            }
        }
        return line
    }
}

extension ReportDimension {
    fileprivate var column: String {
        switch self {
        case .org: "s.org_id"
        case .env: "s.env_id"
        case .key: "s.key_id"
        case .model: "s.model"
        case .zone: "s.zone"
        case .day: "s.day"
        }
    }

    /// What a person reads beside the id; a name may have changed since, the id has not.
    fileprivate var nameColumn: [String] {
        switch self {
        case .org: ["COALESCE(max(o.name), '') AS org_name"]
        case .env: ["COALESCE(max(e.name), '') AS env_name"]
        case .key: ["COALESCE(max(k.name), '') AS key_name"]
        case .model, .zone, .day: []
        }
    }
}

extension TenancyReader {
    /// One ledger row as stored (its cost included), or nil.
    public func usageRecord(seq: Int64) throws -> UsageRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM usage_ledger WHERE seq = ?", arguments: [seq]).map(Ledger.record(row:))
    }
}
