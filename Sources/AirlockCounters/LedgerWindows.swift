/// The sliding windows each scope would hold had it counted only the ledger's rows: the one
/// place rows become windows. The start-up rebuild writes these records into LMDB as they are;
/// reconciliation compares LMDB with them and repairs from them.
///
/// Not `Sendable`: it owns a ``ScopeCounterBuffer``; build it where it is used.
public final class LedgerWindows {
    /// Each scope's slot in `records`.
    let slots: [String: Int]
    let records: ScopeCounterBuffer
    /// The instant every window was moved to.
    public let nowMillis: Int64

    /// Counts every row in the global, org, env and key scopes at its `timestampMillis`; rows
    /// whose bucket has left a window by `nowMillis` count nowhere in that window.
    public init(_ usage: [RecentUsage], now nowMillis: Int64) {
        var slots: [String: Int] = [:]
        for row in usage { for name in row.scopes where slots[name] == nil { slots[name] = slots.count } }
        let records = ScopeCounterBuffer(count: slots.count)
        for index in 0..<records.count { records[index].advance(to: nowMillis) }
        for row in usage {
            for name in row.scopes {
                let counters = records[slots[name]!]
                counters.add(.requestsPerMinute, 1, at: row.timestampMillis)
                counters.add(.tokensPerMinute, row.totalTokens, at: row.timestampMillis)
                counters.add(.tokensPerDay, row.totalTokens, at: row.timestampMillis)
            }
        }
        self.slots = slots
        self.records = records
        self.nowMillis = nowMillis
    }

    /// Every scope at least one row counted in (LMDB names, see ``ScopeName``).
    public var scopeNames: Dictionary<String, Int>.Keys { slots.keys }

    /// The scope's record, nil when no row counted in it.
    public func record(_ name: String) -> ScopeCounters? { slots[name].map { records[$0] } }

    /// The scope's window totals (zero when no row counted in it).
    public func totals(_ name: String) -> ScopeTotals {
        record(name).map { ScopeTotals($0) } ?? ScopeTotals()
    }
}

/// What one scope's record holds, as totals: the three sliding windows and the requests in flight.
public struct ScopeTotals: Sendable, Equatable {
    public var requestsPerMinute: Int64 = 0
    public var tokensPerMinute: Int64 = 0
    public var tokensPerDay: Int64 = 0
    /// Unexpired leases naming the scope: admitted requests not yet settled.
    public var inFlight: Int64 = 0

    public init() {}

    /// The record's totals as of its last ``ScopeCounters/advance(to:)``.
    public init(_ counters: ScopeCounters) {
        requestsPerMinute = counters.total(.requestsPerMinute)
        tokensPerMinute = counters.total(.tokensPerMinute)
        tokensPerDay = counters.total(.tokensPerDay)
        inFlight = counters.concurrency
    }

    public subscript(window: CounterWindow) -> Int64 {
        switch window {
        case .requestsPerMinute: requestsPerMinute
        case .tokensPerMinute: tokensPerMinute
        case .tokensPerDay: tokensPerDay
        }
    }
}
