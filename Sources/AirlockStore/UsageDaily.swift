import AirlockCore
import GRDB

/// Keeps `usage_daily` equal to the ledger summed per UTC day, org, env, key, model and zone,
/// and `usage_monthly` per org and calendar month.
/// Called inside every ledger append's transaction, after the rows are in, so the summary
/// commits or rolls back with them. Rows are summed in memory first: under load a batch of
/// hundreds of rows touches only as many summary rows as it has distinct groups.
enum UsageDaily {
    private struct Group: Hashable {
        var day: Int64
        var org, env, key, model, zone: String
    }

    private struct Sums {
        var requests: Int64 = 0, prompt: Int64 = 0, completion: Int64 = 0, total: Int64 = 0, cost: Int64 = 0, estimated: Int64 = 0
        var firstSeq = Int64.max, lastSeq = Int64.min

        mutating func add(_ record: UsageRecord, seq: Int64) {
            requests += 1
            prompt += record.promptTokens
            completion += record.completionTokens
            total += record.totalTokens
            cost += record.costMicros
            estimated += record.tokenSource == .estimated ? 1 : 0
            firstSeq = min(firstSeq, seq)
            lastSeq = max(lastSeq, seq)
        }

        mutating func add(_ other: Sums) {
            requests += other.requests
            prompt += other.prompt
            completion += other.completion
            total += other.total
            cost += other.cost
            estimated += other.estimated
            firstSeq = min(firstSeq, other.firstSeq)
            lastSeq = max(lastSeq, other.lastSeq)
        }
    }

    static func add(_ records: [UsageRecord], at positions: [ChainPosition], in db: Database) throws {
        var groups: [Group: Sums] = [:]
        for (record, position) in zip(records, positions) {
            let group = Group(day: UTCCalendar.day(of: record.timestamp), org: record.orgID.rawValue, env: record.envID.rawValue,
                              key: record.keyID.rawValue, model: record.model, zone: record.zone)
            groups[group, default: Sums()].add(record, seq: position.seq)
        }
        let statement = try db.cachedStatement(sql: """
            INSERT INTO usage_daily (day, org_id, env_id, key_id, model, zone, requests, prompt_tokens, completion_tokens,
                                     total_tokens, cost_micros, estimated_requests, first_seq, last_seq)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (org_id, day, env_id, key_id, model, zone) DO UPDATE SET
                requests = requests + excluded.requests, prompt_tokens = prompt_tokens + excluded.prompt_tokens,
                completion_tokens = completion_tokens + excluded.completion_tokens, total_tokens = total_tokens + excluded.total_tokens,
                cost_micros = cost_micros + excluded.cost_micros, estimated_requests = estimated_requests + excluded.estimated_requests,
                first_seq = min(first_seq, excluded.first_seq), last_seq = max(last_seq, excluded.last_seq)
            """)
        var months: [MonthKey: Sums] = [:]
        for (group, sums) in groups {
            try statement.execute(arguments: [group.day, group.org, group.env, group.key, group.model, group.zone, sums.requests,
                                              sums.prompt, sums.completion, sums.total, sums.cost, sums.estimated,
                                              sums.firstSeq, sums.lastSeq])
            months[MonthKey(org: group.org, month: UTCCalendar.month(containing: group.day).lowerBound), default: Sums()].add(sums)
        }
        let monthly = try db.cachedStatement(sql: """
            INSERT INTO usage_monthly (org_id, month, requests, total_tokens, cost_micros) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (org_id, month) DO UPDATE SET requests = requests + excluded.requests,
                total_tokens = total_tokens + excluded.total_tokens, cost_micros = cost_micros + excluded.cost_micros
            """)
        for (key, sums) in months {
            try monthly.execute(arguments: [key.org, key.month, sums.requests, sums.total, sums.cost])
        }
    }

    private struct MonthKey: Hashable {
        var org: String
        var month: Int64
    }
}
