import AirlockCore
import AirlockCounters
import AirlockStore

/// Opens the counters for admission, rebuilding them from the ledger when they cannot be
/// trusted: missing, damaged or of another format (moved aside), or left by a process that did
/// not shut down cleanly. The ledger is the durable truth; counters are a fast view of its last
/// day, plus in-flight state (leases, token buckets) that a restart legitimately resets.
public enum CounterRecovery {
    /// What start-up did, for the daemon's log and `/readyz`.
    public struct Report: Sendable, Equatable {
        public var rebuilt: Bool
        public var rowsReplayed: Int
        public var movedAside: String?
    }

    public static func open(dataDirectory: String, store: Store, clock: WallClock = .system) async throws -> (CounterStore, Report) {
        try await recover(try CounterStore(dataDirectory: dataDirectory), store: store, clock: clock)
    }

    /// Rebuilds `counters`, already open, if they cannot be trusted. The daemon opens them
    /// itself first, exclusively, so that a second daemon is refused before it opens (and
    /// perhaps migrates) the database.
    public static func recover(_ counters: CounterStore, store: Store, clock: WallClock = .system) async throws -> (CounterStore, Report) {
        guard counters.needsRebuild else { return (counters, Report(rebuilt: false, rowsReplayed: 0, movedAside: nil)) }
        let now = clock.now()
        let rows = try await lastDay(of: store, now: now)
        try counters.rebuild(rows, now: now.value)
        return (counters, Report(rebuilt: true, rowsReplayed: rows.count, movedAside: counters.movedAside))
    }

    /// The ledger's rows a rebuild counts: the longest window is a day, and older rows cannot
    /// affect any decision. Reconciliation's repair reads the same rows.
    static func lastDay(of store: Store, now: UnixMillis) async throws -> [RecentUsage] {
        try await store.usageTallies(since: now.adding(seconds: -86_400)).map { RecentUsage($0, at: $0.timestamp) }
    }
}

extension RecentUsage {
    /// A ledger row as the counters count it, at `instant` (its start, or its finish).
    init(_ tally: UsageTally, at instant: UnixMillis) {
        self.init(timestampMillis: instant.value, orgID: tally.orgID.rawValue, envID: tally.envID.rawValue,
                  keyID: tally.keyID.rawValue, totalTokens: tally.totalTokens)
    }
}
