import AirlockAdmin
import AirlockAdmission
import AirlockCore
import AirlockIdentity
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// Issue H, part 3: per-org monthly caps, read by the gateway from `SpendGuard`.
@Suite struct SpendGuardTests {
    struct World {
        let dir = TemporaryDirectory()
        let clock = ManualClock()
        let store: Store
        let admin: AdminActions
        let ledger: LedgerAppender
        let actor = AdminActor("cli:alice")
        let acme: Org

        init() async throws {
            store = try Store(dataDirectory: dir.path)
            admin = AdminActions(store: store, hasher: try KeyHasher.loadOrCreate(dataDirectory: dir.path),
                                 clock: clock.wallClock, rotationGraceSeconds: 60)
            acme = try await admin.createOrg(name: "acme", by: actor)
            for model in ["llama-70b", "llama-8b"] { _ = try await admin.addModel(name: model, by: actor) }
            // 1 per million tokens: 1 token costs 1 micro-unit, so a cap of 0.001 is 1,000 tokens.
            let table = #"{"currency":"EUR","models":{"llama-70b":{"input":"1","output":"1"},"llama-8b":{"input":"1","output":"1"}}}"#
            _ = try await admin.addPriceVersion(try PriceTableInput.decode(json: Data(table.utf8)),
                                                effectiveFrom: clock.now.adding(seconds: 1), by: actor)
            clock.advance(seconds: 60)
            ledger = LedgerAppender(store: store, maxBatch: 8)
        }

        func serve(tokens: Int64, model: String = "llama-70b") async throws {
            var record = Samples.usage(0, at: clock.now)
            record.orgID = acme.id
            record.model = model
            (record.promptTokens, record.completionTokens, record.totalTokens) = (tokens, 0, tokens)
            _ = try await ledger.append(record)
        }

        func guardRefreshed() async throws -> SpendGuard {
            let guarded = SpendGuard(store: store, clock: clock.wallClock)
            try await guarded.refresh()
            return guarded
        }

        func auditCount(_ action: String) throws -> Int {
            try Tampering.count(databasePath: store.path, "SELECT count(*) FROM audit_log WHERE action = '\(action)'")
        }
    }

    @Test func warnsAt80PercentRefusesAt100AndAuditsEachCrossingOnce() async throws {
        let w = try await World()
        _ = try await w.admin.setGuardrail(org: "acme", monthlySpend: Decimal6(micros: 1_000), monthlyTokens: nil, onExceed: .refuse, by: w.actor)
        let guarded = try await w.guardRefreshed()
        try await w.serve(tokens: 790)
        try await guarded.refresh()
        #expect(guarded.verdict(org: w.acme.id, model: "llama-70b") == .allow)

        try await w.serve(tokens: 10)
        try await guarded.refresh()
        guard case let .warn(message) = guarded.verdict(org: w.acme.id, model: "llama-70b") else {
            Issue.record("no warning at 80 %")
            return
        }
        #expect(message.contains("80%"))
        try await guarded.refresh()
        // A restarted daemon does not audit the same crossing again.
        _ = try await w.guardRefreshed()
        #expect(try w.auditCount("guardrail.warning") == 1)

        try await w.serve(tokens: 200)
        try await guarded.refresh()
        guard case .refuse = guarded.verdict(org: w.acme.id, model: "llama-70b") else {
            Issue.record("not refused at 100 %")
            return
        }
        #expect(try w.auditCount("guardrail.exceeded") == 1)
        // Other orgs are not touched.
        #expect(guarded.verdict(org: OrgID(unchecked: "org_00000000000000ff"), model: "llama-70b") == .allow)

        // Traffic on reserved capacity is not serverless: warned, never refused.
        _ = try await w.admin.setReservation(org: "acme", model: "llama-8b", capacityUnits: 5, by: w.actor)
        try await guarded.refresh()
        guard case .warn = guarded.verdict(org: w.acme.id, model: "llama-8b") else {
            Issue.record("reserved traffic refused")
            return
        }
        // Warn-only: served, with the warning.
        _ = try await w.admin.setGuardrail(org: "acme", monthlySpend: Decimal6(micros: 1_000), monthlyTokens: nil, onExceed: .warn, by: w.actor)
        try await guarded.refresh()
        guard case .warn = guarded.verdict(org: w.acme.id, model: "llama-70b") else {
            Issue.record("warn-only refused")
            return
        }
        // Cleared: nothing.
        _ = try await w.admin.setGuardrail(org: "acme", monthlySpend: nil, monthlyTokens: nil, onExceed: .refuse, by: w.actor)
        try await guarded.refresh()
        #expect(guarded.verdict(org: w.acme.id, model: "llama-70b") == .allow)
    }

    @Test func aTokenCapCountsTokensAndANewMonthStartsAfresh() async throws {
        let w = try await World()
        _ = try await w.admin.setGuardrail(org: "acme", monthlySpend: nil, monthlyTokens: 1_000, onExceed: .refuse, by: w.actor)
        try await w.serve(tokens: 1_000, model: "llama-8b")
        let guarded = try await w.guardRefreshed()
        guard case .refuse = guarded.verdict(org: w.acme.id, model: "llama-70b") else {
            Issue.record("token cap not enforced")
            return
        }
        #expect(try await w.admin.budgets().first?.percentUsed == 100)
        w.clock.advance(seconds: 40 * 86_400)
        try await guarded.refresh()
        #expect(guarded.verdict(org: w.acme.id, model: "llama-70b") == .allow)
        #expect(try await w.admin.budgets().first?.level == .ok)
    }

    @Test func badCapsAreRefusedAndChangeNothing() async throws {
        let w = try await World()
        let rows = try w.auditCount("guardrail.set")
        await #expect(throws: AirlockError.self) {
            try await w.admin.setGuardrail(org: "acme", monthlySpend: Decimal6(micros: 0), monthlyTokens: nil, onExceed: .refuse, by: w.actor)
        }
        await #expect(throws: AirlockError.self) {
            try await w.admin.setGuardrail(org: "acme", monthlySpend: nil, monthlyTokens: -5, onExceed: .refuse, by: w.actor)
        }
        await #expect(throws: AirlockError.self) {
            try await w.admin.setGuardrail(org: "nobody", monthlySpend: nil, monthlyTokens: 5, onExceed: .refuse, by: w.actor)
        }
        await #expect(throws: AirlockError.self) {
            try await w.admin.setGuardrail(org: "acme", monthlySpend: nil, monthlyTokens: nil, onExceed: .refuse, by: w.actor)
        }
        #expect(try w.auditCount("guardrail.set") == rows)
        #expect(try await w.admin.budgets().isEmpty)
    }
}
