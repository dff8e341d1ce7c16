import AirlockCore
import AirlockCounters
import AirlockStore
import Foundation

/// Reconciliation (issue H § 4, seed 004 § 38; docs/OPERATIONS.md § Reconciliation): the LMDB
/// counters against the ledger for the current windows, the ledger's and audit log's chains,
/// and every licence usage report already issued against the rows it covered. Differences are
/// reported and audited (`reconcile.run`); drifted counters are rebuilt from the ledger
/// (`reconcile.repaired`), never the other way. A broken chain or a disagreeing licence report
/// is reported only: nothing here may change the ledger or the audit log.
///
/// What the counters may legitimately hold beyond the ledger is decided in
/// ``compareCounters()``.
public struct Reconciliation: UsageReconciler {
    public enum Mode: Sendable {
        /// Inside the running daemon, with traffic going on: a difference must be seen in two
        /// passes `confirmAfter` apart, and a repair never takes off what requests in flight
        /// were charged.
        case live(confirmAfter: Duration)
        /// On a stopped appliance, the counters held by this process alone: one pass, no
        /// request in flight, and a repair is the start-up rebuild (leases left behind go too).
        case stopped
    }

    let store: Store
    let counters: CounterStore
    let clock: WallClock
    let mode: Mode

    public init(store: Store, counters: CounterStore, clock: WallClock = .system, mode: Mode) {
        self.store = store
        self.counters = counters
        self.clock = clock
        self.mode = mode
    }

    public func reconcile(repair: Bool, actor: String) async throws -> ReconciliationReport {
        let first = try await compareCounters()
        var drift = first.drift
        if !drift.isEmpty, case let .live(confirmAfter) = mode {
            try await Task.sleep(for: confirmAfter)
            let seenBefore = Set(first.drift.map { "\($0.scope) \($0.metric)" })
            drift = try await compareCounters().drift.filter { seenBefore.contains("\($0.scope) \($0.metric)") }
        }
        let chains = [try await store.verifyLedger(), try await store.verifyAuditLog()].map(ReconciliationReport.ChainCheck.init)
        let licenseReports = try await checkLicenseReports()
        // A broken ledger chain puts the rows a repair would count in doubt: nothing is rebuilt.
        let ledgerIntact = chains.first { $0.chain == "usage_ledger" }?.intact ?? false
        let repaired = repair && ledgerIntact && !drift.isEmpty
            ? try await repairCounters(lowering: Set(drift.filter { $0.direction == .above }.map(\.scope))) : nil
        // The summary tables reports and guardrails read, over the last 31 days.
        var summaryDays = try await store.summaryDaysDiffering(sinceDay: UTCCalendar.day(of: clock.now()) - Self.summaryDaysChecked)
        let summariesRepaired = repair && ledgerIntact && !summaryDays.isEmpty
        if summariesRepaired { summaryDays = try await store.rebuildSummaries(days: summaryDays) }
        let report = ReconciliationReport(
            checkedAt: clock.now(), ledgerRows: first.ledgerRows, scopesChecked: first.scopes, counterDrift: drift,
            countersRepaired: repaired != nil, chains: chains, licenseReports: licenseReports,
            summaryDays: summaryDays.map(UTCCalendar.isoDate), summariesRepaired: summariesRepaired)
        try await audit(report, repaired: repaired, actor: actor)
        return report
    }

    /// How many days back `usage_daily` is compared with the ledger: a month of reports and the
    /// guardrails' month, at the cost of one grouped read of those rows.
    static let summaryDaysChecked: Int64 = 31

    // MARK: Counters against the ledger

    struct CounterComparison {
        var drift: [ReconciliationReport.CounterDrift]
        var ledgerRows: Int
        var scopes: Int
    }

    /// Reads the ledger, then the counters, then the ledger again, and bounds each counter:
    ///
    /// - *Below*: every row of the first read was settled before the counters were read (a
    ///   request is settled, then its row queued), and admission counts a request no earlier than
    ///   it started, so each counter holds at least those rows counted at their start times. Any
    ///   shortfall is drift, in every metric: the limits would let through more than they allow.
    /// - *Above*: every request the counters hold was admitted before they were read and no
    ///   later than it finished, so once settled its row is in the second read, counted at its
    ///   finish time. Beyond that, a scope may hold more only for requests still in flight
    ///   (their estimates, trued up at settlement): tokens above the bound in a scope with
    ///   nothing in flight are drift. Requests per minute are checked from below only: a request
    ///   that failed at the engine is counted at admission and never gets a row. On a stopped
    ///   appliance nothing is in flight: leases left behind are never settled.
    func compareCounters() async throws -> CounterComparison {
        let lowerSince = clock.now().adding(seconds: -86_400)
        let before = try await store.usageSpans(since: lowerSince)
        let now = clock.now().value
        let held = try counters.scopeTotals(at: now)
        // The day window keeps one 15-minute bucket more than a day: rows that old may still count.
        let after = try await store.usageSpans(since: lowerSince.adding(seconds: -900))
        let lower = LedgerWindows(before.map { RecentUsage($0.tally, at: $0.tally.timestamp) }, now: now)
        let upper = LedgerWindows(after.map { RecentUsage($0.tally, at: $0.finishedAt) }, now: now)
        let names = Set(held.keys).union(lower.scopeNames).union(upper.scopeNames)
        var drift: [ReconciliationReport.CounterDrift] = []
        for name in names {
            guard let scope = ScopeName.described(name) else { continue }
            var counter = held[name] ?? ScopeTotals()
            if case .stopped = mode { counter.inFlight = 0 }
            let (least, most) = (lower.totals(name), upper.totals(name))
            for metric in ReconciliationReport.Metric.allCases {
                let window = metric.window
                if counter[window] < least[window] {
                    drift.append(.init(scope: scope, metric: metric, counter: counter[window], ledger: least[window], direction: .below))
                } else if metric != .requestsPerMinute, counter.inFlight == 0, counter[window] > most[window] {
                    drift.append(.init(scope: scope, metric: metric, counter: counter[window], ledger: most[window], direction: .above))
                }
            }
        }
        drift.sort { ($0.scope, $0.metric.rawValue) < ($1.scope, $1.metric.rawValue) }
        return CounterComparison(drift: drift, ledgerRows: before.count, scopes: names.count { ScopeName.described($0) != nil })
    }

    /// What a repair did, for its audit row.
    struct Repair: Encodable {
        var how: String
        var ledgerRows: Int
        var scopesWritten: Int
    }

    /// Rebuilds the counters from the ledger's last day — the rows the start-up rebuild reads.
    /// Live, every scope is raised to the ledger where below it, and only `lowering` (scopes
    /// found above it with nothing in flight) is brought down: a request that finished between
    /// the ledger read and the repair must not be taken off.
    func repairCounters(lowering: Set<String>) async throws -> Repair {
        let now = clock.now()
        let rows = try await CounterRecovery.lastDay(of: store, now: now)
        switch mode {
        case .stopped:
            return Repair(how: "rebuild", ledgerRows: rows.count, scopesWritten: try counters.rebuild(rows, now: now.value))
        case .live:
            let written = try counters.repairWindows(from: LedgerWindows(rows, now: now.value)) {
                ScopeName.described($0).map(lowering.contains) ?? false
            }
            return Repair(how: "windows", ledgerRows: rows.count, scopesWritten: written)
        }
    }

    // MARK: Audit

    /// The most drift lines one audit row carries; the count says how many there were.
    static let auditedDriftLines = 100

    /// One `reconcile.run` row with the report, and `reconcile.repaired` when counters were
    /// rebuilt, in one transaction.
    func audit(_ report: ReconciliationReport, repaired: Repair?, actor: String) async throws {
        struct Run: Encodable {
            var report: ReconciliationReport
            var driftCount: Int
        }
        var capped = report
        capped.counterDrift = Array(report.counterDrift.prefix(Self.auditedDriftLines))
        let run = AuditEntry(timestamp: report.checkedAt, actor: actor, action: "reconcile.run", targetType: "ledger",
                             targetID: "usage_ledger", before: nil,
                             after: Self.json(Run(report: capped, driftCount: report.counterDrift.count)))
        let repair = repaired.map {
            AuditEntry(timestamp: report.checkedAt, actor: actor, action: "reconcile.repaired", targetType: "counters", targetID: "lmdb",
                       before: Self.json(capped.counterDrift), after: Self.json($0))
        }
        _ = try await store.write { tx in
            try tx.audit(run)
            if let repair { try tx.audit(repair) }
        }
    }

    /// Audit JSON as the admin API writes its answers: snake_case, sorted keys.
    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }
}

extension ReconciliationReport.Metric {
    var window: CounterWindow {
        switch self {
        case .requestsPerMinute: .requestsPerMinute
        case .tokensPerMinute: .tokensPerMinute
        case .tokensPerDay: .tokensPerDay
        }
    }
}

extension ReconciliationReport.ChainCheck {
    init(_ report: ChainReport) {
        self.init(chain: report.chain, intact: report.isIntact, rowsChecked: report.rowsChecked, breakSeq: report.firstBreak?.seq,
                  detail: report.firstBreak.map { "\($0.kind.rawValue): \($0.detail)" })
    }
}
