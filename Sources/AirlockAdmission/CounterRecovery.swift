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
        let counters = try CounterStore(dataDirectory: dataDirectory)
        guard counters.needsRebuild else { return (counters, Report(rebuilt: false, rowsReplayed: 0, movedAside: nil)) }
        let now = clock.now()
        // The longest window is a day; older rows cannot affect any decision.
        let rows = try await store.usageTallies(since: now.adding(seconds: -86_400))
        try counters.rebuild(rows.map {
            RecentUsage(timestampMillis: $0.timestamp.value, orgID: $0.orgID.rawValue, envID: $0.envID.rawValue,
                        keyID: $0.keyID.rawValue, totalTokens: $0.totalTokens)
        }, now: now.value)
        return (counters, Report(rebuilt: true, rowsReplayed: rows.count, movedAside: counters.movedAside))
    }
}
