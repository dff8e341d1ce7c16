import AirlockAdmission
import AirlockCore
import AirlockCounters
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// A real SQLite store and real LMDB counters, fed the way the gateway feeds them: admit, then
/// settle with the engine's count, then append the ledger row.
final class ReconcileFixture: Sendable {
    let dir = TemporaryDirectory()
    let clock = ManualClock()
    let store: Store
    let counters: CounterStore
    let admission: Admission
    let appender: LedgerAppender

    init() throws {
        store = try Store(dataDirectory: dir.path)
        counters = try CounterStore(dataDirectory: dir.path)
        let open = EffectiveLimits(global: LimitSet(), org: LimitSet(), env: LimitSet(), key: LimitSet(),
                                   maxTokensPerRequest: 4_096, maxRequestBytes: 1 << 20)
        admission = Admission(counters: counters, clock: clock.wallClock, limits: { _ in open })
        appender = LedgerAppender(store: store, maxBatch: 8)
    }

    func reconciliation(_ mode: Reconciliation.Mode = .live(confirmAfter: .zero)) -> Reconciliation {
        Reconciliation(store: store, counters: counters, clock: clock.wallClock, mode: mode)
    }

    static let org = "org_00000000000000a1", env = "env_00000000000000b2", key = "key_00000000000000c3"

    func request(key: String = ReconcileFixture.key) -> AdmissionRequest {
        AdmissionRequest(orgID: OrgID(unchecked: Self.org), envID: EnvID(unchecked: Self.env), keyID: KeyID(unchecked: key),
                         model: "llama-3-8b", promptTokens: 10, maxTokens: 200, bodyBytes: 100)
    }

    /// Admits a request now; the ticket, and the row its completion will append.
    func admit(_ index: Int, key: String = ReconcileFixture.key) throws -> (AdmissionTicket, UsageRecord) {
        guard case let .admitted(ticket) = try admission.admit(request(key: key)) else { throw AirlockError.invalidArgument("refused") }
        var row = Samples.usage(index, at: clock.now)
        row.keyID = KeyID(unchecked: key)
        return (ticket, row)
    }

    /// A request served one second after it was admitted.
    func finish(_ ticket: AdmissionTicket, _ row: UsageRecord) async throws {
        clock.advance(seconds: 1)
        try admission.settle(ticket, actualTokens: row.totalTokens)
        _ = try await appender.append(row)
    }

    func serve(_ count: Int, from first: Int = 0) async throws {
        for index in first..<(first + count) {
            let (ticket, row) = try admit(index)
            try await finish(ticket, row)
        }
    }

    /// Writes a wrong value into a counter through AirlockCounters' own API.
    func skew(_ scope: String, _ window: CounterWindow, by amount: Int64, at instant: UnixMillis) throws {
        let buffer = ScopeCounterBuffer(count: 1)
        let now = clock.now.value
        try withExtendedLifetime(buffer) {
            try counters.environment.write { txn in
                let access = CounterAccess(txn: txn)
                try access.load(scope, into: buffer[0])
                buffer[0].advance(to: now)
                buffer[0].add(window, amount, at: instant.value)
                try access.put(scope, buffer[0])
            }
        }
    }

    func audit(_ action: String) async throws -> [AuditEntry] {
        try await store.read { try $0.auditTrail() }.filter { $0.action == action }
    }

    /// Writes a `license.report` audit row as `writeUsageReport` does, with the month's summary
    /// (changed by `tamper` first).
    func issueLicenseReport(tamper: (inout UsageSummary) -> Void = { _ in }) async throws {
        let month = UTCCalendar.month(containing: UTCCalendar.day(of: clock.now))
        var summary = try await store.read {
            try $0.usageSummary(from: UnixMillis(month.lowerBound * UTCCalendar.millisPerDay),
                                to: UnixMillis(month.upperBound * UTCCalendar.millisPerDay))
        }
        tamper(&summary)
        let after = String(decoding: try JSONEncoder().encode(summary), as: UTF8.self)
        let entry = AuditEntry(timestamp: clock.now, actor: "cli:test", action: "license.report", targetType: "license",
                               targetID: "evaluation", before: nil, after: after)
        _ = try await store.write { try $0.audit(entry) }
    }
}

@Suite struct ReconciliationTests {
    @Test func aQuietApplianceReconcilesClean() async throws {
        let f = try ReconcileFixture()
        try await f.serve(5)
        let report = try await f.reconciliation().reconcile(repair: true, actor: "test")
        #expect(report.outcome == .clean && report.counterDrift.isEmpty, "\(report.counterDrift)")
        #expect(report.ledgerRows == 5 && report.scopesChecked == 4)
        #expect(report.chains.map(\.chain) == ["usage_ledger", "audit_log"] && report.chains.allSatisfy(\.intact))
        #expect(!report.countersRepaired && report.unrepairable.isEmpty)
        #expect(try await f.audit("reconcile.run").count == 1)
        #expect(try await f.audit("reconcile.repaired").isEmpty)
    }

    @Test func aSkewedCounterIsDetectedRepairedAndAudited() async throws {
        let f = try ReconcileFixture()
        try await f.serve(5)
        let ledgerTokens = (0..<5).reduce(Int64(0)) { $0 + Samples.usage($1).totalTokens }
        let keyScope = ScopeName.key(ReconcileFixture.key)
        try f.skew(keyScope, .tokensPerDay, by: 5_000, at: f.clock.now)
        // Each second's bucket holds one request: take one away.
        try f.skew(ScopeName.global, .requestsPerMinute, by: -1, at: f.clock.now.adding(seconds: -2))

        let found = try await f.reconciliation().reconcile(repair: false, actor: "test")
        #expect(found.outcome == .drift && !found.countersRepaired)
        #expect(found.counterDrift == [
            .init(scope: "global", metric: .requestsPerMinute, counter: 4, ledger: 5, direction: .below),
            .init(scope: "key:\(ReconcileFixture.key)", metric: .tokensPerDay, counter: ledgerTokens + 5_000, ledger: ledgerTokens,
                  direction: .above),
        ])

        let repaired = try await f.reconciliation().reconcile(repair: true, actor: "test")
        #expect(repaired.outcome == .repaired && repaired.countersRepaired && repaired.counterDrift.count == 2)
        let again = try await f.reconciliation().reconcile(repair: false, actor: "test")
        #expect(again.outcome == .clean, "\(again.counterDrift)")

        let runs = try await f.audit("reconcile.run")
        #expect(runs.count == 3 && runs.allSatisfy { $0.actor == "test" })
        #expect(runs[0].after?.contains("\"outcome\":\"drift\"") == true && runs[2].after?.contains("\"outcome\":\"clean\"") == true)
        let repairs = try await f.audit("reconcile.repaired")
        #expect(repairs.count == 1 && repairs[0].after?.contains("\"how\":\"windows\"") == true, "\(repairs)")
        #expect(repairs[0].before?.contains("tokens_per_day") == true)
    }

    @Test func requestsInFlightAndEngineFailuresAreNotDrift() async throws {
        let f = try ReconcileFixture()
        try await f.serve(3)
        // Failed at the engine: counted at admission, settled with nothing, never in the ledger.
        let (failed, _) = try f.admit(90)
        try f.admission.settle(failed, actualTokens: 0)
        // Still running on another key: its estimate is charged, its row not yet written.
        let otherKey = "key_00000000000000d4"
        let (running, runningRow) = try f.admit(91, key: otherKey)
        #expect(try await f.reconciliation().reconcile(repair: true, actor: "test").outcome == .clean)

        // A repair while it runs keeps what it was charged, so its settlement leaves no gap.
        try f.skew(ScopeName.key(ReconcileFixture.key), .tokensPerDay, by: -100, at: f.clock.now)
        let repaired = try await f.reconciliation().reconcile(repair: true, actor: "test")
        #expect(repaired.outcome == .repaired && repaired.counterDrift.map(\.direction) == [.below])
        try await f.finish(running, runningRow)
        let after = try await f.reconciliation().reconcile(repair: false, actor: "test")
        #expect(after.outcome == .clean, "\(after.counterDrift)")
    }

    @Test func aStoppedApplianceIsRepairedByTheStartUpRebuild() async throws {
        let f = try ReconcileFixture()
        try await f.serve(4)
        try f.skew(ScopeName.org(ReconcileFixture.org), .tokensPerMinute, by: 777, at: f.clock.now)
        let report = try await f.reconciliation(.stopped).reconcile(repair: true, actor: "cli:test")
        #expect(report.outcome == .repaired && report.counterDrift.map(\.scope) == ["org:\(ReconcileFixture.org)"])
        #expect(try await f.audit("reconcile.repaired").first?.after?.contains("\"how\":\"rebuild\"") == true)
        #expect(try await f.reconciliation(.stopped).reconcile(repair: false, actor: "cli:test").outcome == .clean)
    }

    @Test func licenceReportsAreRecomputedUpToTheirHead() async throws {
        let f = try ReconcileFixture()
        try await f.serve(4)
        try await f.issueLicenseReport()
        try await f.issueLicenseReport { summary in
            summary.lines[0].totalTokens -= 40
            summary.lines[0].requests -= 1
        }
        // Rows appended after a report, in its month, were not there to count: still a match.
        try await f.serve(2, from: 4)
        let report = try await f.reconciliation().reconcile(repair: true, actor: "test")
        #expect(report.licenseReports.count == 2)
        #expect(report.licenseReports.map(\.matches) == [true, false])
        #expect(report.licenseReports.allSatisfy { $0.period == "2027-01" && $0.headSeq == 4 })
        let differences = report.licenseReports[1].differences
        #expect(differences.contains { $0.contains("total_tokens reported") && $0.contains("llama-3-8b") }, "\(differences)")
        #expect(differences.contains { $0.contains("requests reported 3, ledger 4") }, "\(differences)")
        #expect(report.outcome == .failed && report.unrepairable.count == 1 && report.unrepairable[0].contains("2027-01"))
    }

    @Test func aBrokenChainIsReportedAndNothingIsRepaired() async throws {
        let f = try ReconcileFixture()
        try await f.serve(4)
        try Tampering.run(databasePath: f.store.path, table: "usage_ledger",
                          "UPDATE usage_ledger SET completion_tokens = completion_tokens + 1000, total_tokens = total_tokens + 1000 WHERE seq = 2")
        let report = try await f.reconciliation().reconcile(repair: true, actor: "test")
        #expect(report.outcome == .failed && !report.countersRepaired)
        #expect(report.chains[0].intact == false && report.chains[0].breakSeq == 2 && report.chains[1].intact)
        // The tampered row now says more than the counters hold: reported, not "repaired" into them.
        #expect(report.counterDrift.contains { $0.metric == .tokensPerDay && $0.direction == .below })
        #expect(report.unrepairable.first?.contains("usage_ledger is broken at seq 2") == true)
        #expect(try await f.audit("reconcile.run").count == 1)
        #expect(try await f.audit("reconcile.repaired").isEmpty)
        #expect(try Tampering.count(databasePath: f.store.path, "SELECT count(*) FROM usage_ledger") == 4)
    }

    @Test func aSummaryTableThatDriftedFromTheLedgerIsRewrittenFromIt() async throws {
        let f = try ReconcileFixture()
        try await f.serve(6)
        // usage_daily is derived, not evidence: no trigger guards it, reconciliation does.
        try Tampering.run(databasePath: f.store.path, table: "usage_daily", "UPDATE usage_daily SET total_tokens = total_tokens + 7")
        let found = try await f.reconciliation().reconcile(repair: false, actor: "test")
        #expect(found.outcome == .drift && found.summaryDays.count == 1 && !found.summariesRepaired)
        let repaired = try await f.reconciliation().reconcile(repair: true, actor: "test")
        #expect(repaired.outcome == .repaired && repaired.summariesRepaired)
        #expect(try await f.reconciliation().reconcile(repair: true, actor: "test").outcome == .clean)
        #expect(try Tampering.count(databasePath: f.store.path, "SELECT sum(total_tokens) FROM usage_daily")
            == (try Tampering.count(databasePath: f.store.path, "SELECT sum(total_tokens) FROM usage_ledger")))
        #expect(try Tampering.count(databasePath: f.store.path, "SELECT sum(total_tokens) FROM usage_monthly")
            == (try Tampering.count(databasePath: f.store.path, "SELECT sum(total_tokens) FROM usage_ledger")))
    }

    @Test func theCountersHeldByOneProcessAreRefusedToAnExclusiveOpener() throws {
        let f = try ReconcileFixture()
        #expect(throws: CountersInUse.self) { _ = try CounterStore(dataDirectory: f.dir.path, exclusive: true) }
    }
}
