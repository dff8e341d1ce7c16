/// Typed access to the counters inside one LMDB write (or read) transaction.
///
/// Key layout (docs/ARCHITECTURE.md, "Counters and admission"): a scope's record sits under the
/// scope's name (``ScopeName``) — `g` (global), `o:<org id>`, `e:<env id>`, `k:<key id>`; an
/// org's reserved capacity bucket under `r:<org id>:<model>`; leases under `l|…` (see ``Lease``); bookkeeping
/// under `meta|…`. Scope names contain no `|`, so the three families never collide. A value that
/// cannot be decoded throws ``CounterDamage`` rather than reading as zero.
public struct CounterAccess {
    let txn: LMDBTransaction

    public init(txn: LMDBTransaction) { self.txn = txn }

    /// Reads the scope's record into `counters` (an empty record if it was never written).
    public func load(_ name: String, into counters: ScopeCounters) throws {
        try txn.withValue(name) { value in
            guard let value else { return counters.reset() }
            guard counters.load(value) else { throw CounterDamage(key: name) }
        }
    }

    public func put(_ name: String, _ counters: ScopeCounters) throws {
        try txn.put(name, counters.bytes)
    }

    /// An org's reserved-capacity bucket (stored as `[level, updated]`), nil if never drawn on.
    public func reservedBucket(_ name: String) throws -> TokenBucket? {
        guard let numbers = try txn.getIntegers(Array(name.utf8)) else { return nil }
        guard numbers.count == 2 else { throw CounterDamage(key: name) }
        return TokenBucket(levelMilli: numbers[0], updatedMillis: numbers[1])
    }

    public func putReserved(_ name: String, _ bucket: TokenBucket) throws {
        try txn.putIntegers(Array(name.utf8), [bucket.levelMilli, bucket.updatedMillis])
    }

    /// Records a lease over the scopes `Lease.encode(scopes:)` encoded (whose concurrency counts
    /// the caller has already raised).
    public func add(_ lease: Lease, encodedScopes: [UInt8]) throws {
        try txn.put(lease.key, encodedScopes)
    }

    /// Moves a held lease's expiry later (a long stream still running); nil if it is no longer
    /// held (expired and swept, or settled). The record is keyed by its expiry, so it moves to
    /// a new key with the same scopes; the counts are untouched.
    public func renew(_ lease: Lease, until expiresMillis: Int64) throws -> Lease? {
        guard let scopes = try txn.get(lease.key) else { return nil }
        guard expiresMillis > lease.expiresMillis else { return lease }
        let renewed = Lease(id: lease.id, expiresMillis: expiresMillis)
        _ = try txn.delete(lease.key)
        try txn.put(renewed.key, scopes)
        return renewed
    }

    /// Removes a lease; false if it was not held (already expired and swept, or settled).
    public func remove(_ lease: Lease) throws -> Bool {
        try txn.delete(lease.key)
    }

    /// Gives back the slots of every lease that expired by `nowMillis`, reading each scope into
    /// `scratch`. Returns when the next lease expires (nil if none is held): until then a sweep
    /// would find nothing, as any lease added later expires later still.
    @discardableResult
    public func sweepExpiredLeases(at nowMillis: Int64, scratch: ScopeCounters) throws -> Int64? {
        var next: Int64?
        let expired = try txn.collect(prefix: Lease.prefix) { key, value -> (Lease, [String])? in
            guard next == nil else { return nil }
            guard let lease = Lease(key: key) else { throw CounterDamage(key: "lease record") }
            guard lease.expiresMillis <= nowMillis else {
                next = lease.expiresMillis
                return nil
            }
            return (lease, Lease.decode(scopes: value))
        }
        for (lease, scopes) in expired {
            for name in scopes {
                try load(name, into: scratch)
                scratch.concurrency -= 1
                try put(name, scratch)
            }
            try txn.delete(lease.key)
        }
        return next
    }
}
