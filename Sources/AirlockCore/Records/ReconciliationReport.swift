/// What one reconciliation found (docs/OPERATIONS.md § Reconciliation): the hot counters against
/// the ledger for the current windows, the hash chains, and every licence usage report already
/// issued against the ledger it was computed from. Returned by `POST /admin/v1/reconcile` and
/// `airlock reconcile`, and audited as `reconcile.run`.
public struct ReconciliationReport: Codable, Sendable, Equatable {
    public enum Metric: String, Codable, Sendable, CaseIterable {
        case requestsPerMinute = "requests_per_minute"
        case tokensPerMinute = "tokens_per_minute"
        case tokensPerDay = "tokens_per_day"
    }

    /// One counter that disagrees with the ledger beyond what requests in flight explain.
    public struct CounterDrift: Codable, Sendable, Equatable {
        public enum Direction: String, Codable, Sendable {
            /// Below the ledger: the limits would let through more than they allow.
            case below
            /// Above the ledger with nothing in flight to explain it: callers refused early.
            case above
        }

        /// `global`, `org:<id>`, `env:<id>` or `key:<id>`.
        public var scope: String
        public var metric: Metric
        /// What LMDB holds.
        public var counter: Int64
        /// What the ledger's rows add up to in the same window.
        public var ledger: Int64
        public var direction: Direction

        public init(scope: String, metric: Metric, counter: Int64, ledger: Int64, direction: Direction) {
            (self.scope, self.metric, self.counter, self.ledger, self.direction) = (scope, metric, counter, ledger, direction)
        }
    }

    /// One hash chain, walked from its first row.
    public struct ChainCheck: Codable, Sendable, Equatable {
        /// `usage_ledger` or `audit_log`.
        public var chain: String
        public var intact: Bool
        public var rowsChecked: Int64
        /// The first row that does not verify, and why.
        public var breakSeq: Int64?
        public var detail: String?

        public init(chain: String, intact: Bool, rowsChecked: Int64, breakSeq: Int64? = nil, detail: String? = nil) {
            (self.chain, self.intact, self.rowsChecked, self.breakSeq, self.detail) = (chain, intact, rowsChecked, breakSeq, detail)
        }
    }

    /// One issued licence usage report (a `license.report` audit row) recomputed from the ledger
    /// rows it covered (seq ≤ its head).
    public struct LicenseReportCheck: Codable, Sendable, Equatable {
        /// The `license.report` audit row.
        public var auditSeq: Int64
        public var issuedAt: UnixMillis
        /// `2026-11`; nil for a report that covered no row (its month cannot be told).
        public var period: String?
        public var headSeq: Int64
        /// What differs, one line each (`org_…/model: total_tokens reported 10, ledger 12`).
        public var differences: [String]
        public var matches: Bool

        public init(auditSeq: Int64, issuedAt: UnixMillis, period: String?, headSeq: Int64, differences: [String]) {
            (self.auditSeq, self.issuedAt, self.period, self.headSeq, self.differences) = (auditSeq, issuedAt, period, headSeq, differences)
            matches = differences.isEmpty
        }
    }

    public enum Outcome: String, Codable, Sendable {
        /// Counters agree with the ledger, the chains verify, every licence report matches.
        case clean
        /// Counters drifted and were rebuilt from the ledger; nothing else is wrong.
        case repaired
        /// Counters drifted and were left as they are (repair not asked for).
        case drift
        /// A chain is broken or a licence report disagrees: a person must look (never repaired).
        case failed
    }

    public var checkedAt: UnixMillis
    /// Ledger rows of the last day, the longest window.
    public var ledgerRows: Int
    public var scopesChecked: Int
    public var counterDrift: [CounterDrift]
    public var countersRepaired: Bool
    public var chains: [ChainCheck]
    public var licenseReports: [LicenseReportCheck]
    /// UTC days (`2026-12-05`, the last 31) on which `usage_daily` was not the ledger summed —
    /// derived data, rewritten from the ledger when repairing.
    public var summaryDays: [String]
    public var summariesRepaired: Bool
    /// What was found and cannot be repaired automatically, in words.
    public var unrepairable: [String]
    public var outcome: Outcome

    public init(checkedAt: UnixMillis, ledgerRows: Int, scopesChecked: Int, counterDrift: [CounterDrift], countersRepaired: Bool,
                chains: [ChainCheck], licenseReports: [LicenseReportCheck], summaryDays: [String] = [], summariesRepaired: Bool = false) {
        self.checkedAt = checkedAt
        self.ledgerRows = ledgerRows
        self.scopesChecked = scopesChecked
        self.counterDrift = counterDrift
        self.countersRepaired = countersRepaired
        self.chains = chains
        self.licenseReports = licenseReports
        self.summaryDays = summaryDays
        self.summariesRepaired = summariesRepaired
        unrepairable = chains.filter { !$0.intact }.map {
            "\($0.chain) is broken at seq \($0.breakSeq ?? 0): \($0.detail ?? "")"
        } + licenseReports.filter { !$0.matches }.map {
            "licence report \($0.period ?? "?") (audit seq \($0.auditSeq)) disagrees with the ledger: \($0.differences.joined(separator: "; "))"
        }
        let countersFine = counterDrift.isEmpty || countersRepaired, summariesFine = summaryDays.isEmpty || summariesRepaired
        outcome = !unrepairable.isEmpty ? .failed : counterDrift.isEmpty && summaryDays.isEmpty ? .clean
            : countersFine && summariesFine ? .repaired : .drift
    }

    /// Whether the appliance is as it should be now: `clean` or `repaired`.
    public var isSound: Bool { outcome == .clean || outcome == .repaired }
}

/// Running a reconciliation over the counters the daemon holds; the daemon implements it, the
/// admin API calls it (LMDB belongs to the daemon while it runs).
public protocol UsageReconciler: Sendable {
    /// Compares, audits (`reconcile.run`, and `reconcile.repaired` when counters were rebuilt)
    /// and, with `repair`, rebuilds drifted counters from the ledger — never the other way.
    func reconcile(repair: Bool, actor: String) async throws -> ReconciliationReport
}
