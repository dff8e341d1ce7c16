import AirlockAdmin
import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// Issue H, part 5: node running costs from the price table, shared out to models by tokens.
@Suite struct FinOpsReportTests {
    @Test func nodeCostsAreSharedByTokensAndComparedWithWhatWasCharged() async throws {
        let f = try AdminFixture()
        let acme = try await f.admin.createOrg(name: "acme", by: f.actor)
        for model in ["big", "small"] { _ = try await f.admin.addModel(name: model, by: f.actor) }
        let table = """
            {"currency":"EUR","models":{"big":{"input":"10","output":"10"},"small":{"input":"1","output":"1"}},
             "node_hour_cost":{"h100-*":"10","h100-special":"50","default":"1"}}
            """
        let start = f.clock.now.adding(seconds: 1)
        _ = try await f.admin.addPriceVersion(try PriceTableInput.decode(json: Data(table.utf8)), effectiveFrom: start, by: f.actor)
        let ledger = LedgerAppender(store: f.store, maxBatch: 8)
        func serve(_ node: String, _ model: String, tokens: Int64, latency: Int64) async throws {
            var record = Samples.usage(0, at: start.adding(seconds: 60))
            (record.orgID, record.node, record.model, record.latencyMillis) = (acme.id, node, model, latency)
            (record.promptTokens, record.completionTokens, record.totalTokens) = (tokens, 0, tokens)
            _ = try await ledger.append(record)
        }
        try await serve("h100-a", "big", tokens: 3_000_000, latency: 1_800_000)
        try await serve("h100-a", "small", tokens: 1_000_000, latency: 1_800_000)
        try await serve("cpu-x", "small", tokens: 1_000_000, latency: 720_000)
        f.clock.advance(seconds: 3 * 3_600)
        let report = try await f.admin.finOpsReport(from: start, to: start.adding(seconds: 2 * 3_600))

        #expect(report.nodes.map(\.node) == ["cpu-x", "h100-a"])
        let h100 = try #require(report.nodes.last)
        #expect(h100.costMicros == 20_000_000, "2 h at 10 (prefix h100-*)")
        #expect(h100.tokens == 4_000_000)
        #expect(abs(h100.averageInFlight - 0.5) < 1e-9, "3,600 request-seconds over 7,200 s")
        #expect(report.nodes.first?.costMicros == 2_000_000, "2 h at the default 1")

        let big = try #require(report.models.first { $0.model == "big" })
        let small = try #require(report.models.first { $0.model == "small" })
        #expect(big.costMicros == 15_000_000, "three quarters of h100-a's tokens")
        #expect(small.costMicros == 7_000_000, "a quarter of h100-a plus all of cpu-x")
        #expect(small.costPerMillionMicros == 3_500_000)
        #expect(big.chargedMicros == 30_000_000)
        #expect(big.marginMicros == 15_000_000)

        let table2 = PriceTable(currency: "EUR", models: [:], nodeHourCosts: ["h100-*": 1, "h100-special": 2, "default": 3])
        #expect(table2.hourCost(of: "h100-special") == 2)
        #expect(table2.hourCost(of: "h100-other") == 1)
        #expect(table2.hourCost(of: "a100-1") == 3)
        await #expect(throws: AirlockError.self) {
            let bad = #"{"currency":"EUR","models":{},"node_hour_cost":{"h*100":"1"}}"#
            _ = try await f.admin.addPriceVersion(try PriceTableInput.decode(json: Data(bad.utf8)), effectiveFrom: f.clock.now.adding(seconds: 60), by: f.actor)
        }
    }
}
