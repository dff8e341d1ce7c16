/// What a counter measures.
public enum CounterMetric: String, Sendable, CaseIterable {
    case requestsPerMinute = "rpm"
    case tokensPerMinute = "tpm"
    case tokensPerDay = "tpd"
    case tokensPerSecond = "tps"
    case concurrency = "conc"
    case reservedTokensPerSecond = "rtps"
}

/// The LMDB key of one counter: `<scope>|<metric>`, where scope is `g` (global), `o:<org id>`,
/// `e:<env id>`, `k:<key id>`, or `r:<org id>:<model>` (reserved capacity). Meta keys start with
/// `meta|`. The layout is documented in docs/ARCHITECTURE.md.
public struct CounterKey: Hashable, Sendable, CustomStringConvertible {
    public var scope: String
    public var metric: CounterMetric

    public init(scope: String, metric: CounterMetric) {
        self.scope = scope
        self.metric = metric
    }

    public var description: String { "\(scope)|\(metric.rawValue)" }
    var bytes: [UInt8] { Array(description.utf8) }
}

/// Typed access to the counters inside one LMDB transaction. A value that cannot be decoded
/// throws ``CounterDamage`` rather than reading as zero.
public struct CounterAccess {
    let txn: LMDBTransaction

    public init(txn: LMDBTransaction) { self.txn = txn }

    /// The window for a per-minute or per-day metric; an empty one if it was never written.
    public func window(_ key: CounterKey) throws -> SlidingWindow {
        let template = key.metric == .tokensPerDay ? SlidingWindow.perDay() : SlidingWindow.perMinute()
        guard let numbers = try txn.getIntegers(key.bytes) else { return template }
        guard let window = SlidingWindow(stored: numbers, matching: template) else { throw CounterDamage(key: key.description) }
        return window
    }

    public func put(_ key: CounterKey, _ window: SlidingWindow) throws { try txn.putIntegers(key.bytes, window.stored) }

    public func bucket(_ key: CounterKey) throws -> TokenBucket? {
        guard let numbers = try txn.getIntegers(key.bytes) else { return nil }
        guard let bucket = TokenBucket(stored: numbers) else { throw CounterDamage(key: key.description) }
        return bucket
    }

    public func put(_ key: CounterKey, _ bucket: TokenBucket) throws { try txn.putIntegers(key.bytes, bucket.stored) }

    public func leases(_ key: CounterKey) throws -> LeaseSet {
        guard let numbers = try txn.getIntegers(key.bytes) else { return LeaseSet() }
        guard let leases = LeaseSet(stored: numbers) else { throw CounterDamage(key: key.description) }
        return leases
    }

    public func put(_ key: CounterKey, _ leases: LeaseSet) throws { try txn.putIntegers(key.bytes, leases.stored) }
}
