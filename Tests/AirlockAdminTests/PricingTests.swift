import AirlockAdmin
import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// Issue H, part 1: price versions and the cost each ledger row carries.
@Suite struct PricingTests {
    /// acme and globex, two catalog models, and an appender on the fixture's store.
    struct World {
        let f: AdminFixture
        let acme: Org
        let globex: Org
        let ledger: LedgerAppender

        init() async throws {
            f = try AdminFixture()
            acme = try await f.admin.createOrg(name: "acme", by: f.actor)
            globex = try await f.admin.createOrg(name: "globex", by: f.actor)
            for model in ["llama-70b", "embed-small"] { _ = try await f.admin.addModel(name: model, by: f.actor) }
            ledger = LedgerAppender(store: f.store, maxBatch: 64)
        }

        /// Appends one row through the gateway's path (priced by the ledger) and returns it as stored.
        func serve(_ org: Org, model: String = "llama-70b", zone: String = "hall-a", prompt: Int64, completion: Int64,
                   at instant: UnixMillis) async throws -> UsageRecord {
            var record = Samples.usage(0, at: instant)
            record.orgID = org.id
            record.model = model
            record.zone = zone
            record.promptTokens = prompt
            record.completionTokens = completion
            record.totalTokens = prompt + completion
            record.costMicros = 999_999 // ignored: the ledger prices the row
            let position = try await ledger.append(record)
            return try #require(try await f.store.read { try $0.usageRecord(seq: position.seq) })
        }

        static func table(_ json: String) throws -> PriceTableInput { try PriceTableInput.decode(json: Data(json.utf8)) }
    }

    static let base = #"{"currency":"EUR","models":{"llama-70b":{"input":"0.60","output":"0.80"}}}"#

    @Test func aRowIsPricedByTheVersionInForceAtItsTimeAndNeverRepriced() async throws {
        let w = try await World()
        let now = w.f.clock.now
        let free = try await w.serve(w.acme, prompt: 1_000_000, completion: 0, at: now)
        #expect(free.costMicros == 0, "no price version yet")

        let v1Start = now.adding(seconds: 60)
        _ = try await w.f.admin.addPriceVersion(try World.table(Self.base), effectiveFrom: v1Start, by: w.f.actor)
        let v2 = #"{"currency":"EUR","models":{"llama-70b":{"input":"1.00","output":"2.00"}}}"#
        let v2Start = now.adding(seconds: 3_600)
        _ = try await w.f.admin.addPriceVersion(try World.table(v2), effectiveFrom: v2Start, by: w.f.actor)

        w.f.clock.advance(seconds: 7_200)
        let beforeV1 = try await w.serve(w.acme, prompt: 1_000_000, completion: 0, at: UnixMillis(v1Start.value - 1))
        let atV1 = try await w.serve(w.acme, prompt: 1_000_000, completion: 1_000_000, at: v1Start)
        let lastOfV1 = try await w.serve(w.acme, prompt: 1_000_000, completion: 0, at: UnixMillis(v2Start.value - 1))
        let atV2 = try await w.serve(w.acme, prompt: 1_000_000, completion: 1_000_000, at: v2Start)
        #expect(beforeV1.costMicros == 0)
        #expect(atV1.costMicros == 1_400_000)
        #expect(lastOfV1.costMicros == 600_000)
        #expect(atV2.costMicros == 3_000_000)

        // A version may not start at or before any written row, even one far in the future.
        let late = try await w.serve(w.acme, prompt: 10, completion: 10, at: now.adding(seconds: 86_400))
        w.f.clock.advance(seconds: 60)
        await #expect(throws: AirlockError.self) {
            try await w.f.admin.addPriceVersion(try World.table(v2), effectiveFrom: late.timestamp, by: w.f.actor)
        }
        // Nor can SQL behind the admin layer's back change or remove one.
        #expect(Tampering.attempt(databasePath: w.f.store.path, "UPDATE price_versions SET document = '{}'")?
            .contains("append-only") == true)
        #expect(Tampering.attempt(databasePath: w.f.store.path, "DELETE FROM price_versions")?.contains("append-only") == true)
        #expect(Tampering.attempt(databasePath: w.f.store.path, """
            INSERT INTO price_versions VALUES (3, \(late.timestamp.value), 0, 'EUR', '{}')
            """)?.contains("must start after") == true)
        #expect(try await w.f.admin.priceVersions().map(\.version) == [1, 2])
        #expect(try await LedgerAudit(store: w.f.store).verifyLedger().isIntact)
    }

    @Test func zoneMultipliersDiscountsAndOrgPrices() async throws {
        let w = try await World()
        let table = """
            {"currency":"EUR","models":{"llama-70b":{"input":"0.60","output":"0.80"},"embed-small":{"input":"0.02","output":"0"}},
             "zones":{"hall-b":"1.1"},
             "orgs":{"acme":{"discount_percent":"15"},"\(w.globex.id.rawValue)":{"models":{"llama-70b":{"input":"0.50","output":"0.50"}}}}}
            """
        let start = w.f.clock.now.adding(seconds: 1)
        _ = try await w.f.admin.addPriceVersion(try World.table(table), effectiveFrom: start, by: w.f.actor)
        w.f.clock.advance(seconds: 10)
        let t = w.f.clock.now
        // acme: 15 % off; hall-b ×1.1 on top: 1,400,000 × 1.1 × 0.85 = 1,309,000.
        #expect(try await w.serve(w.acme, prompt: 1_000_000, completion: 1_000_000, at: t).costMicros == 1_190_000)
        #expect(try await w.serve(w.acme, zone: "hall-b", prompt: 1_000_000, completion: 1_000_000, at: t).costMicros == 1_309_000)
        // globex: its own price for llama-70b, the table's for the embedding model.
        #expect(try await w.serve(w.globex, prompt: 1_000_000, completion: 1_000_000, at: t).costMicros == 1_000_000)
        #expect(try await w.serve(w.globex, model: "embed-small", prompt: 3_000_000, completion: 0, at: t).costMicros == 60_000)
        // Rounded half up per row: 1 token at 0.60/M is 0.6 micro-units → 1; 1 at 0.02/M → 0.
        #expect(try await w.serve(w.globex, prompt: 1, completion: 0, at: t).costMicros == 1)
        #expect(try await w.serve(w.globex, model: "embed-small", prompt: 1, completion: 0, at: t).costMicros == 0)
        // A model the table does not price costs nothing (and is not an error at request time).
        _ = try await w.f.admin.addModel(name: "unpriced", by: w.f.actor)
        #expect(try await w.serve(w.acme, model: "unpriced", prompt: 5_000, completion: 5_000, at: t).costMicros == 0)
    }

    @Test func theFreeTierCoversTheFirstTokensOfEachMonthForServerlessOrgsOnly() async throws {
        let w = try await World()
        let table = #"{"currency":"EUR","models":{"llama-70b":{"input":"1","output":"1"}},"free_tokens_per_month":1000}"#
        // The fixture's clock is 2027-01-15; January ends 16 days and 16 hours later.
        let start = w.f.clock.now.adding(seconds: 1)
        _ = try await w.f.admin.addPriceVersion(try World.table(table), effectiveFrom: start, by: w.f.actor)
        _ = try await w.f.admin.setReservation(org: "globex", model: "llama-70b", capacityUnits: 5, by: w.f.actor)
        w.f.clock.advance(seconds: 60)
        let t = w.f.clock.now
        // acme: 600 free; then 400 free of 600 (200 charged, prompt tokens first); then all charged.
        #expect(try await w.serve(w.acme, prompt: 500, completion: 100, at: t).costMicros == 0)
        #expect(try await w.serve(w.acme, prompt: 300, completion: 300, at: t).costMicros == 200)
        #expect(try await w.serve(w.acme, prompt: 600, completion: 0, at: t).costMicros == 600)
        // globex holds reserved capacity: no free tier.
        #expect(try await w.serve(w.globex, prompt: 500, completion: 100, at: t).costMicros == 600)
        // February starts afresh.
        let february = UnixMillis(UTCCalendar.days(fromYear: 2027, month: 2, day: 1) * UTCCalendar.millisPerDay)
        w.f.clock.advance(seconds: 40 * 86_400)
        #expect(try await w.serve(w.acme, prompt: 900, completion: 0, at: february).costMicros == 0)
        #expect(try await w.serve(w.acme, prompt: 200, completion: 0, at: february).costMicros == 100)
    }

    @Test func concurrentRowsShareTheFreeTierExactlyOnce() async throws {
        let w = try await World()
        let table = #"{"currency":"EUR","models":{"llama-70b":{"input":"1","output":"1"}},"free_tokens_per_month":10000}"#
        _ = try await w.f.admin.addPriceVersion(try World.table(table), effectiveFrom: w.f.clock.now.adding(seconds: 1), by: w.f.actor)
        w.f.clock.advance(seconds: 60)
        let t = w.f.clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<200 { group.addTask { _ = try await w.serve(w.acme, prompt: 100, completion: 0, at: t) } }
            try await group.waitForAll()
        }
        // 20,000 tokens, 10,000 free: exactly 10,000 charged, at 1 per million tokens = 1 micro-unit each.
        w.f.clock.advance(seconds: 1)
        let report = try await w.f.admin.chargebackReport(from: t, to: t.adding(seconds: 1), groupBy: [])
        #expect(report.totals.totalTokens == 20_000)
        #expect(report.totals.costMicros == 10_000)
    }

    @Test(arguments: [
        (#"{"currency":"EUR","models":{"llama-70b":{"input":"-0.60","output":"0.80"}}}"#, "negative"),
        (#"{"currency":"EUR","models":{"gpt-9":{"input":"0.60","output":"0.80"}}}"#, "not in the catalog"),
        (#"{"currency":"EUR","models":{"llama-70b":{"input":"0.60","output":"0.80","cached":"0.1"}}}"#, "unknown field 'cached'"),
        (#"{"currency":"EUR","models":{"llama-70b":{"input":"0.6000001","output":"0.80"}}}"#, "six places"),
        (#"{"currency":"EUR","models":{"llama-70b":{"input":0.60}}}"#, "output: is required"),
        (#"{"currency":"euro","models":{}}"#, "ISO 4217"),
        (#"{"currency":"EUR","models":{},"zones":{"hall-a":"0"}}"#, "multiplier"),
        (#"{"currency":"EUR","models":{},"orgs":{"nobody":{"discount_percent":"5"}}}"#, "nobody"),
        (#"{"currency":"EUR","models":{},"orgs":{"acme":{"discount_percent":"101"}}}"#, "between 0 and 100"),
        (#"{"currency":"EUR","models":{"llama-70b":{"input":"2000000","output":"0"}}}"#, "between 0 and 1,000,000"),
        (#"["EUR"]"#, "price table"),
    ])
    func badTablesAreRefusedClearlyAndChangeNothing(json: String, expected: String) async throws {
        let w = try await World()
        let rows = try w.f.auditRows()
        do {
            _ = try await w.f.admin.addPriceVersion(try World.table(json), effectiveFrom: w.f.clock.now.adding(seconds: 60), by: w.f.actor)
            Issue.record("accepted \(json)")
        } catch let error as AirlockError {
            #expect("\(error)".contains(expected), "\(error)")
        }
        #expect(try w.f.auditRows() == rows)
        #expect(try await w.f.admin.priceVersions().isEmpty)
    }

    @Test func overlappingPastAndCurrencyChangingVersionsAreRefused() async throws {
        let w = try await World()
        let now = w.f.clock.now
        let table = try World.table(Self.base)
        await #expect(throws: AirlockError.self) { try await w.f.admin.addPriceVersion(table, effectiveFrom: now, by: w.f.actor) }
        _ = try await w.f.admin.addPriceVersion(table, effectiveFrom: now.adding(seconds: 600), by: w.f.actor)
        for start in [now.adding(seconds: 600), now.adding(seconds: 300)] {
            do {
                _ = try await w.f.admin.addPriceVersion(table, effectiveFrom: start, by: w.f.actor)
                Issue.record("overlap accepted")
            } catch let error as AirlockError {
                #expect("\(error)".contains("overlaps version 1"), "\(error)")
            }
        }
        let dollars = try World.table(#"{"currency":"USD","models":{}}"#)
        await #expect(throws: AirlockError.self) {
            try await w.f.admin.addPriceVersion(dollars, effectiveFrom: now.adding(seconds: 900), by: w.f.actor)
        }
        #expect(try await w.f.admin.priceVersions().count == 1)
    }

    @Test func aTOMLTableReadsLikeItsJSON() throws {
        let json = try World.table(#"{"currency":"EUR","models":{"llama-70b":{"input":"0.60","output":"0.8"}},"zones":{"hall-b":"1.1"}}"#)
        #expect(json.models["llama-70b"]?.input.micros == 600_000)
        #expect(json.zones?["hall-b"]?.micros == 1_100_000)
        #expect(Micros.format(1_309_000, places: 2) == "1.31")
        #expect(Micros.format(0, places: 2) == "0.00" && Micros.format(1_005_000, places: 2) == "1.01")
        #expect(Micros.format(-1_234_567, places: 2) == "-1.23" && Micros.format(999_999_999, places: 0) == "1000")
        #expect(Micros.format(1_500_000, places: 6) == "1.500000" && Micros.format(600_000) == "0.6")
        #expect(Micros.parse("0.000001") == 1)
        #expect(Micros.parse("1.") == nil)
        #expect(Micros.parse("1e3") == nil)
    }
}
