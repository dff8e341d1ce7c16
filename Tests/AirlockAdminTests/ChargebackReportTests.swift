import AirlockAdmin
import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// Issue H, part 2: chargeback reports equal a direct SQL sum of the ledger, whatever the period
/// and grouping — whole days come from `usage_daily`, the edges from the ledger.
@Suite struct ChargebackReportTests {
    static let dimensions: [[ReportDimension]] = [[], [.org], [.org, .model], [.env, .key, .zone], [.day], ReportDimension.allCases]

    /// 3 orgs, 4 envs, 6 keys, 2 models, 2 zones, rows spread over five days before the clock.
    static func world() async throws -> (AdminFixture, [Org]) {
        let f = try AdminFixture()
        var orgs: [Org] = []
        for name in ["acme", "globex", "initech"] { orgs.append(try await f.admin.createOrg(name: name, by: f.actor)) }
        _ = try await f.admin.addModel(name: "llama-70b", by: f.actor)
        let table = #"{"currency":"EUR","models":{"llama-70b":{"input":"0.60","output":"0.80"}},"zones":{"hall-b":"1.25"}}"#
        _ = try await f.admin.addPriceVersion(try PriceTableInput.decode(json: Data(table.utf8)),
                                              effectiveFrom: f.clock.now.adding(seconds: 1), by: f.actor)
        f.clock.advance(seconds: 6 * 86_400)
        let ledger = LedgerAppender(store: f.store, maxBatch: 32)
        var generator = SystemRandomNumberGenerator()
        let start = f.clock.now.value - 5 * 86_400_000
        var batch: [UsageRecord] = []
        for index in 0..<3_000 {
            var record = Samples.usage(index, at: UnixMillis(start + Int64.random(in: 0..<(5 * 86_400_000), using: &generator)))
            record.orgID = orgs[index % 3].id
            record.envID = EnvID(unchecked: "env_00000000000000e\(index % 4)")
            record.keyID = KeyID(unchecked: "key_00000000000000f\(index % 6)")
            record.model = index % 5 == 0 ? "embed-small" : "llama-70b"
            record.zone = index % 7 == 0 ? "hall-b" : "hall-a"
            if index % 2 == 0 { batch.append(record) } else { _ = try await ledger.append(record) }
        }
        // Replayed rows keep the cost they carry and are summed all the same.
        _ = try await ledger.append(contentsOf: batch.sorted { $0.timestamp < $1.timestamp })
        return (f, orgs)
    }

    @Test func totalsEqualADirectSumOfTheLedgerForAnyPeriodAndGrouping() async throws {
        let (f, orgs) = try await Self.world()
        let now = f.clock.now.value
        let day = UTCCalendar.millisPerDay
        let periods: [(Int64, Int64)] = [
            (now - 5 * day, now), (now - 3 * day - 12_345, now - day / 3), (now - 2 * day, now - 2 * day + 60_000),
            ((now / day - 3) * day, (now / day - 1) * day), (now - 10 * day, now - 9 * day),
        ]
        let path = f.store.path
        func sum(_ column: String, _ conditions: [String]) throws -> Int {
            try Tampering.count(databasePath: path, "SELECT COALESCE(sum(\(column)), 0) FROM usage_ledger WHERE " + conditions.joined(separator: " AND "))
        }
        for (from, to) in periods {
            for groupBy in Self.dimensions {
                let report = try await f.admin.chargebackReport(from: UnixMillis(from), to: UnixMillis(to), groupBy: groupBy)
                let period = ["ts >= \(from)", "ts < \(to)"]
                #expect(report.rows == (try sum("1", period)))
                #expect(report.totals.totalTokens == Int64(try sum("total_tokens", period)))
                #expect(report.totals.costMicros == Int64(try sum("cost_micros", period)))
                // Every line at once: the same grouping summed straight from the ledger.
                let columns = groupBy.map { $0 == .day ? "(ts / \(day))" : [.org, .env, .key].contains($0) ? "\($0.rawValue)_id" : $0.rawValue }
                let keys = columns.map { "\($0) || '|' || " }.joined()
                let expected = try Tampering.strings(databasePath: path, """
                    SELECT COALESCE(\(keys)count(*) || '|' || sum(prompt_tokens) || '|' || sum(completion_tokens) || '|' || sum(cost_micros), '')
                    FROM usage_ledger WHERE \(period.joined(separator: " AND "))
                    \(columns.isEmpty ? "" : "GROUP BY " + columns.joined(separator: ", "))
                    """).filter { !$0.isEmpty }
                let actual = report.lines.map { line -> String in
                    let values: [String] = groupBy.map { dimension in
                        switch dimension {
                        case .org: line.orgID ?? ""
                        case .env: line.envID ?? ""
                        case .key: line.keyID ?? ""
                        case .model: line.model ?? ""
                        case .zone: line.zone ?? ""
                        case .day: line.day.flatMap(UnixMillis.parseISODate).map { String($0.value / day) } ?? ""
                        }
                    }
                    return (values + ["\(line.requests)", "\(line.promptTokens)", "\(line.completionTokens)", "\(line.costMicros)"])
                        .joined(separator: "|")
                }
                #expect(actual.sorted() == expected.sorted(), "\(groupBy) \(from)–\(to)")
                if groupBy.contains(.org), let acme = report.lines.first(where: { $0.orgID == orgs[0].id.rawValue }) {
                    #expect(acme.orgName == "acme")
                }
            }
        }
        // One org's report is that org's lines of the whole report.
        let all = try await f.admin.chargebackReport(from: UnixMillis(now - 5 * day), to: UnixMillis(now), groupBy: [.org, .model])
        let acme = try await f.admin.chargebackReport(from: UnixMillis(now - 5 * day), to: UnixMillis(now), groupBy: [.org, .model], org: "acme")
        #expect(acme.lines == all.lines.filter { $0.orgID == orgs[0].id.rawValue })
        #expect(acme.headSeq == 3_000)
        // The summary table is the ledger summed, row for row.
        #expect(try Tampering.count(databasePath: path, """
            SELECT count(*) FROM (SELECT day, org_id, env_id, key_id, model, zone, requests, total_tokens, cost_micros FROM usage_daily
            EXCEPT SELECT ts / 86400000, org_id, env_id, key_id, model, zone, count(*), sum(total_tokens), sum(cost_micros)
            FROM usage_ledger GROUP BY 1, 2, 3, 4, 5, 6)
            """) == 0)
    }

    @Test func reservedCapacityIsChargedForTheTimeItWasHeld() async throws {
        let f = try AdminFixture()
        _ = try await f.admin.createOrg(name: "acme", by: f.actor)
        _ = try await f.admin.addModel(name: "llama-70b", by: f.actor)
        let table = #"{"currency":"EUR","models":{},"reserved_cu_hour":"0.10","orgs":{"acme":{"discount_percent":"50"}}}"#
        let t0 = f.clock.now
        _ = try await f.admin.addPriceVersion(try PriceTableInput.decode(json: Data(table.utf8)), effectiveFrom: t0.adding(seconds: 1), by: f.actor)
        f.clock.advance(seconds: 1)
        _ = try await f.admin.setReservation(org: "acme", model: "llama-70b", capacityUnits: 10, by: f.actor)
        f.clock.advance(seconds: 3_600)
        _ = try await f.admin.setReservation(org: "acme", model: "llama-70b", capacityUnits: 20, by: f.actor)
        f.clock.advance(seconds: 1_800)
        _ = try await f.admin.setReservation(org: "acme", model: "llama-70b", capacityUnits: nil, by: f.actor)
        f.clock.advance(seconds: 3_600)
        let report = try await f.admin.chargebackReport(from: t0, to: f.clock.now, groupBy: [.org])
        // 10 CU × 1 h + 20 CU × 0.5 h = 20 CU-hours at 0.10, half off: 1.00.
        #expect(report.reservations.count == 1)
        let held: Int64 = 20 * 3_600_000
        #expect(report.reservations.first?.capacityUnitMillis == held)
        #expect(report.reservations.first?.costMicros == 1_000_000)
        // A period inside the reservation's life is charged for its own part only.
        let inner = try await f.admin.chargebackReport(from: t0.adding(seconds: 1 + 1_800), to: t0.adding(seconds: 1 + 3_600 + 900),
                                                       groupBy: [])
        let innerHeld: Int64 = (10 * 1_800 + 20 * 900) * 1_000
        #expect(inner.reservations.first?.capacityUnitMillis == innerHeld)
    }

    @Test func reversedFutureAndMalformedPeriodsAreRefused() async throws {
        let f = try AdminFixture()
        let now = f.clock.now
        for (from, to, expected) in [(now, now.adding(seconds: -1), "reversed"), (now, now, "reversed"),
                                     (now.adding(seconds: -60), now.adding(seconds: 60), "future"),
                                     (now.adding(seconds: 60), now.adding(seconds: 120), "future")] {
            do {
                _ = try await f.admin.chargebackReport(from: from, to: to, groupBy: [.org])
                Issue.record("accepted \(from) – \(to)")
            } catch let error as AirlockError {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
        #expect(throws: AirlockError.self) { try ReportDimension.list("org,customer") }
        let admin = AdminPrincipal(actor: f.actor, role: .admin)
        #expect(throws: AirlockError.self) { try ReportQuery(query: ["from": "yesterday"], principal: admin, now: now) }
        #expect(throws: AirlockError.self) { try ReportQuery(query: ["format": "xlsx"], principal: admin, now: now) }
        await #expect(throws: AirlockError.self) {
            try await f.admin.chargebackReport(from: now.adding(seconds: -60), to: now, groupBy: [], org: "nobody")
        }
    }

    @Test func csvCellsCannotRunAsFormulas() {
        var line = ChargebackReport.Line(requests: 1, totalTokens: 2, costMicros: 1_500_000)
        line.orgID = "org_1"
        line.orgName = "=HYPERLINK(\"x\")"
        let report = ChargebackReport(from: UnixMillis(0), to: UnixMillis(1), groupBy: [.org], currency: "EUR", lines: [line],
                                      reservations: [], rows: 1, firstSeq: 1, lastSeq: 1, headSeq: 1, headHash: "h")
        let csv = ReportCSV.render(report)
        #expect(csv.contains(#""'=HYPERLINK(""x"")""#))
        #expect(csv.contains("1.500000"))
    }
}
