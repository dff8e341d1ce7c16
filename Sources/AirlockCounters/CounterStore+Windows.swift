/// Reading every scope's windows and repairing them from the ledger, for reconciliation.
extension CounterStore {
    /// Every layer scope's totals (global, org, env, key; not the reserved-capacity buckets, the
    /// leases or the marks) in one read snapshot, each window moved to `nowMillis` in a copy —
    /// reading changes nothing.
    public func scopeTotals(at nowMillis: Int64) throws -> [String: ScopeTotals] {
        let buffer = ScopeCounterBuffer(count: 1)
        let scratch = buffer[0]
        let entries = try withExtendedLifetime(buffer) { try environment.read { txn in
            try txn.collect(prefix: []) { key, value -> (String, ScopeTotals)? in
                let name = String(decoding: key, as: UTF8.self)
                guard ScopeName.described(name) != nil else { return (name, ScopeTotals()) }
                guard scratch.load(value) else { throw CounterDamage(key: name) }
                scratch.advance(to: nowMillis)
                return (name, ScopeTotals(scratch))
            }
        } }
        var totals: [String: ScopeTotals] = [:]
        for (name, scope) in entries where ScopeName.described(name) != nil { totals[name] = scope }
        return totals
    }

    /// Repairs the windows of every layer scope — those in LMDB and those the ledger counted
    /// in — from `ledger`'s, in one write transaction, while the counters stay in use. Every
    /// bucket below the ledger's is raised to it; a scope is brought down to the ledger only
    /// where `lowering` says so and it has nothing in flight (a bucket above the ledger may hold
    /// in-flight estimates, or a request that finished after the ledger was read; see
    /// ``ScopeCounters/adoptWindows(from:keepingExcess:)``). Token buckets, concurrency counts,
    /// leases and reserved-capacity buckets are kept: the ledger cannot say what they should
    /// be, and requests in flight will settle against them. Returns the scopes written.
    @discardableResult
    public func repairWindows(from ledger: LedgerWindows, lowering: (String) -> Bool) throws -> Int {
        let buffer = ScopeCounterBuffer(count: 2)
        let (record, expected) = (buffer[0], buffer[1])
        let written = try withExtendedLifetime(buffer) { try environment.write { txn in
            let stored = try txn.collect(prefix: []) { key, _ -> String? in String(decoding: key, as: UTF8.self) }
            let names = Set(stored.filter { ScopeName.described($0) != nil }).union(ledger.scopeNames)
            let access = CounterAccess(txn: txn)
            for name in names {
                try access.load(name, into: record)
                record.advance(to: ledger.nowMillis)
                if let counted = ledger.record(name) {
                    guard expected.load(counted.bytes) else { throw CounterDamage(key: name) }
                } else {
                    expected.reset()
                    expected.advance(to: ledger.nowMillis)
                }
                record.adoptWindows(from: expected, keepingExcess: record.concurrency > 0 || !lowering(name))
                try access.put(name, record)
            }
            return names.count
        } }
        try environment.sync()
        return written
    }
}
