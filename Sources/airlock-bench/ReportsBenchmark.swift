import AirlockCore
import AirlockStore
import ArgumentParser
import Foundation
import GRDB

/// Chargeback report time over a large ledger (issue H: an org-month report over 10 million rows
/// in under a second). The ledger is written through the real appender (`append(contentsOf:)`,
/// which keeps `usage_daily` in the same transaction), over `--days` days of traffic from
/// `--orgs` orgs, each with 10 keys, 5 models and 3 zones. Then, best of `--repeat`:
/// - one org's calendar month, by model and by env/key/model/zone/day (the org filter rides the
///   summary table's primary key);
/// - the same month for every org, by org and model;
/// - a period with ragged edges (noon to noon), whose partial days come from the ledger;
/// - the baseline: the org-month summed straight from `usage_ledger` through its `ts` index,
///   the way a report without the summary table would have to — in the same run, same file.
/// Every report's totals are checked against the direct sum before anything is printed.
struct ReportsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reports", abstract: "Chargeback report time over a large ledger.")

    @Option(help: "Ledger rows to write.") var rows = 10_000_000
    @Option(help: "Days the rows are spread over (ending yesterday).") var days = 62
    @Option(help: "Orgs (each: 2 envs, 10 keys).") var orgs = 50
    @Option(help: "Timed runs per measurement; the best is reported.") var `repeat` = 5
    @Option(help: "Directory for the scratch database (default: a temp dir).") var scratch: String?
    @Option(help: "Keep and reuse this data directory (written once if empty).") var reuse: String?

    func run() async throws {
        let directory = reuse ?? (scratch ?? FileManager.default.temporaryDirectory.path) + "/airlock-bench-reports-\(getpid())"
        defer { if reuse == nil { try? FileManager.default.removeItem(atPath: directory) } }
        let store = try Store(dataDirectory: directory)
        let day = UTCCalendar.millisPerDay
        let end = (UnixMillis.now().value / day) * day
        let start = end - Int64(days) * day
        let orgIDs = (0..<orgs).map { OrgID(unchecked: String(format: "org_%016x", $0 + 1)) }
        let existing = try await store.read { try $0.chargebackReport(from: UnixMillis(0), to: UnixMillis(Int64.max / 2), groupBy: []) }
        if existing.rows == 0 {
            let seconds = try await populate(store, orgIDs: orgIDs, from: start, to: end)
            print("wrote \(rows) rows in \(String(format: "%.1f", seconds)) s (\(Int(Double(rows) / seconds)) rows/s, usage_daily included)")
        }
        let total = try await store.read { try $0.chargebackReport(from: UnixMillis(0), to: UnixMillis(Int64.max / 2), groupBy: []) }.rows
        // The last whole calendar month inside the data, and a ragged period across it.
        let month = UTCCalendar.month(containing: (end / day) - 1)
        let monthRange = UTCCalendar.month(containing: month.lowerBound - 1)
        let (from, to) = (UnixMillis(monthRange.lowerBound * day), UnixMillis(monthRange.upperBound * day))
        let org = orgIDs[orgIDs.count / 2]
        let reader = try DatabaseQueue(path: store.path, configuration: { var c = Configuration(); c.readonly = true; return c }())

        print("reports over \(total) ledger rows, \(orgs) orgs, \(days) days; month \(UTCCalendar.isoDate(monthRange.lowerBound)); best of \(self.repeat)")
        print("measurement                                      seconds   lines")
        func measure(_ name: String, _ body: () async throws -> Int) async throws -> Double {
            var best = Double.infinity
            var lines = 0
            for _ in 0..<self.repeat {
                let begin = ContinuousClock.now
                lines = try await body()
                best = min(best, (ContinuousClock.now - begin).seconds)
            }
            print(name.padding(toLength: 49, withPad: " ", startingAt: 0) + String(format: "%-10.4f", best) + "\(lines)")
            return best
        }
        let direct = try reader.read { db in
            try Row.fetchOne(db, sql: "SELECT count(*) AS n, sum(total_tokens) AS t, sum(cost_micros) AS c FROM usage_ledger WHERE ts >= ? AND ts < ? AND org_id = ?",
                             arguments: [from.value, to.value, org.rawValue])!
        }
        let orgMonth = try await measure("one org, month, by model") {
            let report = try await store.read { try $0.chargebackReport(from: from, to: to, groupBy: [.org, .model], org: org) }
            guard report.rows == direct["n"], report.totals.totalTokens == direct["t"], report.totals.costMicros == direct["c"] else {
                throw ValidationError("the report's totals differ from the ledger's direct sum")
            }
            return report.lines.count
        }
        let detailed = try await measure("one org, month, by env/key/model/zone/day") {
            try await store.read { try $0.chargebackReport(from: from, to: to, groupBy: [.env, .key, .model, .zone, .day], org: org) }.lines.count
        }
        let allOrgs = try await measure("every org, month, by org and model") {
            try await store.read { try $0.chargebackReport(from: from, to: to, groupBy: [.org, .model]) }.lines.count
        }
        let ragged = try await measure("one org, noon to noon across the month") {
            try await store.read {
                try $0.chargebackReport(from: UnixMillis(from.value + day / 2), to: UnixMillis(to.value + day / 2), groupBy: [.model], org: org)
            }.lines.count
        }
        let scan = try await measure("baseline: org-month summed from usage_ledger") {
            try reader.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT model, count(*), sum(prompt_tokens), sum(completion_tokens), sum(total_tokens), sum(cost_micros)
                    FROM usage_ledger WHERE ts >= ? AND ts < ? AND org_id = ? GROUP BY model
                    """, arguments: [from.value, to.value, org.rawValue]).count
            }
        }
        print(String(format: "RESULT reports rows=%d org_month_s=%.4f org_month_detailed_s=%.4f all_orgs_month_s=%.4f ragged_s=%.4f ledger_scan_s=%.3f speedup=%.0f",
                     total, orgMonth, detailed, allOrgs, ragged, scan, scan / orgMonth))
    }

    /// Rows in time order through the real appender, 5,000 per transaction.
    private func populate(_ store: Store, orgIDs: [OrgID], from: Int64, to: Int64) async throws -> Double {
        let appender = LedgerAppender(store: store, maxBatch: 512)
        let models = ["llama-3-70b", "llama-3-8b", "qwen-2.5-32b", "gemma-7b", "embed-small"]
        let zones = ["hall-a", "hall-b", "dr-site"]
        let step = Double(to - from) / Double(rows)
        let begin = ContinuousClock.now
        var index = 0
        while index < rows {
            let batch = (index..<min(index + 5_000, rows)).map { i -> UsageRecord in
                let org = i % orgIDs.count
                let key = (i / orgIDs.count) % 10
                let id = String(format: "%016x", org * 10 + key)
                let timestamp = UnixMillis(from + Int64(Double(i) * step))
                return UsageRecord(
                    usageID: UsageID.generate(at: timestamp), requestID: "req_\(i)", timestamp: timestamp, orgID: orgIDs[org],
                    envID: EnvID(unchecked: String(format: "env_%016x", org * 2 + key % 2)), keyID: KeyID(unchecked: "key_" + id),
                    zone: zones[i % 3], model: models[(i / 7) % 5], node: "gpu-\(i % 16)", promptTokens: Int64(20 + i % 500),
                    completionTokens: Int64(200 + i % 300), latencyMillis: 420, costMicros: Int64(100 + i % 900), streamed: i % 2 == 0,
                    finishReason: "stop", tokenSource: i % 50 == 0 ? .estimated : .engine)
            }
            _ = try await appender.append(contentsOf: batch)
            index += batch.count
            if index % 1_000_000 == 0 { FileHandle.standardError.write(Data("  \(index) rows\n".utf8)) }
        }
        return (ContinuousClock.now - begin).seconds
    }
}
