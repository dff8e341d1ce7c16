import AirlockCore
import AirlockCounters
import Synchronization

/// The check-then-charge logic of one decision, inside one LMDB write transaction. Reads the
/// four scope records once, decides, and writes them back only when admitting.
struct CounterTransaction {
    let txn: CounterAccess
    let now: Int64
    let burstSeconds: Int64
    /// Room for the four layers' records; only ever used inside the (single) write transaction.
    let scopes: ScopeCounterBuffer

    init(txn: LMDBTransaction, now: Int64, burstSeconds: Int64, scopes: ScopeCounterBuffer) {
        self.txn = CounterAccess(txn: txn)
        self.now = now
        self.burstSeconds = burstSeconds
        self.scopes = scopes
    }

    private static let layers: [AdmissionLayer] = [.global, .org, .env, .key]

    /// The windows every layer keeps, in the order they are checked: the quota first (403),
    /// then the per-minute rates (429).
    private static let checkedWindows: [(CounterWindow, LimitKind)] = [
        (.tokensPerDay, .tokensPerDay), (.requestsPerMinute, .requestsPerMinute), (.tokensPerMinute, .tokensPerMinute),
    ]

    /// How long a caller refused for concurrency should wait. Slots come back when requests
    /// finish, which admission cannot foresee; the lease expiry (minutes) would be far too long.
    static let concurrencyRetryMillis: Int64 = 1_000

    /// Expired leases are swept first, and their slots given back even if this request is
    /// refused: the caller commits the transaction either way (a refusal writes nothing else).
    ///
    /// `prepared` is built before the transaction (strings and allocations stay outside the
    /// writer lock); `sweepDue` says whether a lease may have expired (see `Admission`).
    func admit(
        _ prepared: PreparedRequest, limits: EffectiveLimits, leaseMillis: Int64, sweepDue: Bool, poolSaturated: () -> Bool
    ) throws -> (AdmissionDecision, nextExpiry: Int64?) {
        let nextExpiry = sweepDue ? try txn.sweepExpiredLeases(at: now, scratch: scopes[0]) : nil
        return (try decide(prepared, limits: limits, leaseMillis: leaseMillis, poolSaturated: poolSaturated), nextExpiry)
    }

    private func decide(
        _ prepared: PreparedRequest, limits: EffectiveLimits, leaseMillis: Int64, poolSaturated: () -> Bool
    ) throws -> AdmissionDecision {
        let names = prepared.scopes.names
        let estimate = prepared.request.estimatedTokens
        var reservedBucket = try drawReserved(prepared.scopes.reserved, rate: Int64(limits.reservedTokensPerSecond), estimate: estimate)
        let reserved = reservedBucket != nil
        for index in 0..<4 {
            try txn.load(names[index], into: scopes[index])
            scopes[index].advance(to: now)
        }
        let snapshot = rateLimitSnapshot(limits)
        if !reserved && poolSaturated() {
            return .refused(AdmissionRefusal(layer: .global, limit: .poolSaturated, limitValue: 0, retryAfterMillis: 1_000, rateLimits: snapshot))
        }
        for (index, layer) in Self.layers.enumerated() {
            let set = limits.limits(for: layer)
            // Reserved traffic uses global capacity (it is charged) but is never refused by it.
            let enforce = !(reserved && layer == .global)
            func refusal(_ kind: LimitKind, _ value: Int, _ wait: Int64?) -> AdmissionDecision {
                .refused(AdmissionRefusal(layer: layer, limit: kind, limitValue: Int64(value), retryAfterMillis: wait, rateLimits: snapshot))
            }
            for (window, kind) in Self.checkedWindows {
                let amount: Int64 = window == .requestsPerMinute ? 1 : estimate
                if enforce, let limit = set.limit(kind), scopes[index].total(window) + amount > Int64(limit) {
                    return refusal(kind, limit, scopes[index].wait(window, toAdd: amount, limit: Int64(limit), at: now))
                }
                scopes[index].add(window, amount, at: now)
            }
            if let rate = set.tokensPerSecond {
                var bucket = scopes[index].tokenBucket ?? TokenBucket(full: Int64(rate), burstSeconds: burstSeconds, at: now)
                bucket.refill(rate: Int64(rate), burstSeconds: burstSeconds, at: now)
                if enforce && bucket.inDebt { return refusal(.tokensPerSecond, rate, bucket.wait(rate: Int64(rate))) }
                bucket.charge(estimate)
                scopes[index].tokenBucket = bucket
            }
            if enforce, let limit = set.concurrency, scopes[index].concurrency >= Int64(limit) {
                return refusal(.concurrency, limit, Self.concurrencyRetryMillis)
            }
            scopes[index].concurrency += 1
        }
        for index in 0..<4 { try txn.put(names[index], scopes[index]) }
        if reserved, var bucket = reservedBucket.take() {
            bucket.charge(estimate)
            try txn.putReserved(prepared.scopes.reserved, bucket)
        }
        let lease = Lease(id: LeaseIDs.next(), expiresMillis: now + leaseMillis)
        try txn.add(lease, encodedScopes: prepared.encodedScopes)
        return .admitted(AdmissionTicket(request: prepared.scopes, estimatedTokens: estimate, admittedAtMillis: now, lease: lease,
                                         reserved: reserved, rateLimits: snapshot.charged(tokens: estimate)))
    }

    /// The org's reserved bucket, refilled to now, if it has capacity left (the request is then
    /// reserved traffic); nil otherwise.
    private func drawReserved(_ name: String, rate: Int64, estimate: Int64) throws -> TokenBucket? {
        guard rate > 0 else { return nil }
        var bucket = try txn.reservedBucket(name) ?? TokenBucket(full: rate, burstSeconds: burstSeconds, at: now)
        bucket.refill(rate: rate, burstSeconds: burstSeconds, at: now)
        return bucket.inDebt ? nil : bucket
    }

    /// Trues up the estimate to `actualTokens` in the buckets charged at admission and gives the
    /// lease's slots back — unless the lease already expired, whose sweep gave them back.
    func settle(_ ticket: AdmissionTicket, actualTokens: Int64) throws {
        let delta = max(0, actualTokens) - ticket.estimatedTokens
        let held = try txn.remove(ticket.lease)
        guard held || delta != 0 else { return }
        let counters = scopes[0]
        for name in ticket.request.names {
            try txn.load(name, into: counters)
            counters.advance(to: now)
            if delta != 0 {
                counters.add(.tokensPerMinute, delta, at: ticket.admittedAtMillis)
                counters.add(.tokensPerDay, delta, at: ticket.admittedAtMillis)
                if var bucket = counters.tokenBucket {
                    bucket.charge(delta)
                    counters.tokenBucket = bucket
                }
            }
            if held { counters.concurrency -= 1 }
            try txn.put(name, counters)
        }
        if ticket.reserved, delta != 0, var bucket = try txn.reservedBucket(ticket.request.reserved) {
            bucket.charge(delta)
            try txn.putReserved(ticket.request.reserved, bucket)
        }
    }

    /// The tightest per-minute request and token figures across the layers, before this request.
    private func rateLimitSnapshot(_ limits: EffectiveLimits) -> RateLimitSnapshot {
        let requests = tightest(.requestsPerMinute, limits) { $0.requestsPerMinute }
        let tokens = tightest(.tokensPerMinute, limits) { $0.tokensPerMinute }
        return RateLimitSnapshot(
            limitRequests: requests?.limit, remainingRequests: requests?.remaining, resetRequestsMillis: requests?.reset ?? 0,
            limitTokens: tokens?.limit, remainingTokens: tokens?.remaining, resetTokensMillis: tokens?.reset ?? 0)
    }

    /// The layer with the least left of `window`'s limit: its limit, what remains, and when one
    /// more unit fits. The reset walks the window's buckets, so only for the layer reported.
    private func tightest(
        _ window: CounterWindow, _ limits: EffectiveLimits, _ limitOf: (LimitSet) -> Int?
    ) -> (limit: Int64, remaining: Int64, reset: Int64)? {
        var best: (index: Int, limit: Int64, remaining: Int64)?
        for (index, layer) in Self.layers.enumerated() {
            guard let limit = limitOf(limits.limits(for: layer)).map(Int64.init) else { continue }
            let remaining = max(0, limit - scopes[index].total(window))
            if remaining < best?.remaining ?? .max { best = (index, limit, remaining) }
        }
        return best.map { ($0.limit, $0.remaining, scopes[$0.index].wait(window, toAdd: 1, limit: $0.limit, at: now) ?? 60_000) }
    }
}

/// What a decision needs that can be built before taking the writer lock.
struct PreparedRequest {
    let request: AdmissionRequest
    let scopes: AdmissionRequest.Scopes
    /// The lease record's value: the scopes whose slots it holds.
    let encodedScopes: [UInt8]

    init(_ request: AdmissionRequest) {
        self.request = request
        scopes = request.scopes
        encodedScopes = Lease.encode(scopes: scopes.names)
    }
}

/// Lease ids: a random start, then counting. Unique within a process, and across restarts
/// with overwhelming probability; drawing 64 random bits per decision cost a system call each.
enum LeaseIDs {
    private static let counter = Atomic<Int64>(Int64.random(in: 1 ... (.max / 2)))
    static func next() -> Int64 { counter.wrappingAdd(1, ordering: .relaxed).newValue }
}

extension LimitSet {
    /// The configured value of a window's limit, nil when unlimited.
    func limit(_ kind: LimitKind) -> Int? {
        switch kind {
        case .tokensPerDay: return tokensPerDay
        case .requestsPerMinute: return requestsPerMinute
        case .tokensPerMinute: return tokensPerMinute
        case .tokensPerSecond: return tokensPerSecond
        case .concurrency: return concurrency
        default: return nil
        }
    }
}
