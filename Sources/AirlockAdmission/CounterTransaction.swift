import AirlockCore
import AirlockCounters

/// The check-then-charge logic of one decision, inside one LMDB write transaction. Reads every
/// counter it needs, decides, and writes back only when admitting.
struct CounterTransaction {
    let txn: CounterAccess
    let now: Int64
    let burstSeconds: Int64

    init(txn: LMDBTransaction, now: Int64, burstSeconds: Int64) {
        self.txn = CounterAccess(txn: txn)
        self.now = now
        self.burstSeconds = burstSeconds
    }

    private static let layers: [AdmissionLayer] = [.global, .org, .env, .key]

    private func scope(_ layer: AdmissionLayer, _ scopes: AdmissionRequest.Scopes) -> String {
        switch layer {
        case .global: return "g"
        case .org: return scopes.org
        case .env: return scopes.env
        case .key, .request: return scopes.key
        }
    }

    func admit(
        _ request: AdmissionRequest, limits: EffectiveLimits, leaseMillis: Int64, poolSaturated: () -> Bool
    ) throws -> AdmissionTicket {
        let scopes = request.scopes
        let estimate = request.estimatedTokens
        var changes = CounterChanges()

        let reserved = try drawReserved(scopes.reserved, rate: Int64(limits.reservedTokensPerSecond), estimate: estimate, into: &changes)
        // Every window is read once: the snapshot and the checks share them.
        var windows: [CounterKey: SlidingWindow] = [:]
        for layer in Self.layers {
            for metric in [CounterMetric.requestsPerMinute, .tokensPerMinute, .tokensPerDay] {
                let key = CounterKey(scope: scope(layer, scopes), metric: metric)
                windows[key] = try txn.window(key)
            }
        }
        let snapshot = rateLimitSnapshot(scopes, limits, windows)
        if !reserved && poolSaturated() {
            throw AdmissionRefusal(layer: .global, limit: .poolSaturated, limitValue: 0, retryAfterMillis: 1_000, rateLimits: snapshot)
        }
        let leaseID = Int64.random(in: 1 ... .max)
        for layer in Self.layers {
            let key = scope(layer, scopes)
            let set = limits.limits(for: layer)
            // Reserved traffic uses global capacity (it is charged) but is never refused by it.
            let enforce = !(reserved && layer == .global)
            func refuse(_ kind: LimitKind, _ value: Int, _ wait: Int64?) -> AdmissionRefusal {
                AdmissionRefusal(layer: layer, limit: kind, limitValue: Int64(value), retryAfterMillis: wait, rateLimits: snapshot)
            }
            for (metric, amount, limit, kind) in [
                (CounterMetric.tokensPerDay, estimate, set.tokensPerDay, LimitKind.tokensPerDay),
                (.requestsPerMinute, 1, set.requestsPerMinute, .requestsPerMinute),
                (.tokensPerMinute, estimate, set.tokensPerMinute, .tokensPerMinute),
            ] {
                guard var window = windows[CounterKey(scope: key, metric: metric)] else { continue }
                if enforce, let limit, window.total(at: now) + amount > Int64(limit) {
                    throw refuse(kind, limit, window.wait(toAdd: amount, limit: Int64(limit), at: now))
                }
                window.add(amount, at: now, now: now)
                changes.windows[CounterKey(scope: key, metric: metric)] = window
            }
            if let rate = set.tokensPerSecond {
                let bucketKey = CounterKey(scope: key, metric: .tokensPerSecond)
                var bucket = try txn.bucket(bucketKey) ?? TokenBucket(full: Int64(rate), burstSeconds: burstSeconds, at: now)
                bucket.refill(rate: Int64(rate), burstSeconds: burstSeconds, at: now)
                if enforce && bucket.inDebt { throw refuse(.tokensPerSecond, rate, bucket.wait(rate: Int64(rate))) }
                bucket.charge(estimate)
                changes.buckets[bucketKey] = bucket
            }
            let leaseKey = CounterKey(scope: key, metric: .concurrency)
            var leases = try txn.leases(leaseKey)
            leases.prune(at: now)
            if enforce, let limit = set.concurrency, leases.count >= limit {
                throw refuse(.concurrency, limit, leases.wait(at: now))
            }
            leases.add(id: leaseID, expiresMillis: now + leaseMillis)
            changes.leases[leaseKey] = leases
        }
        try txn.write(changes)
        return AdmissionTicket(request: scopes, estimatedTokens: estimate, admittedAtMillis: now, leaseID: leaseID,
                               reserved: reserved, rateLimits: snapshot)
    }

    /// Charges the org's reserved bucket if it has capacity left; true when the request is
    /// reserved traffic.
    private func drawReserved(_ scope: String, rate: Int64, estimate: Int64, into changes: inout CounterChanges) throws -> Bool {
        guard rate > 0 else { return false }
        let key = CounterKey(scope: scope, metric: .reservedTokensPerSecond)
        var bucket = try txn.bucket(key) ?? TokenBucket(full: rate, burstSeconds: burstSeconds, at: now)
        bucket.refill(rate: rate, burstSeconds: burstSeconds, at: now)
        guard !bucket.inDebt else { return false }
        bucket.charge(estimate)
        changes.buckets[key] = bucket
        return true
    }

    func settle(_ ticket: AdmissionTicket, actualTokens: Int64) throws {
        let delta = max(0, actualTokens) - ticket.estimatedTokens
        var changes = CounterChanges()
        for layer in Self.layers {
            let key = scope(layer, ticket.request)
            for metric in [CounterMetric.tokensPerMinute, .tokensPerDay] {
                let windowKey = CounterKey(scope: key, metric: metric)
                var window = try txn.window(windowKey)
                window.add(delta, at: ticket.admittedAtMillis, now: now)
                changes.windows[windowKey] = window
            }
            let bucketKey = CounterKey(scope: key, metric: .tokensPerSecond)
            if var bucket = try txn.bucket(bucketKey) {
                bucket.charge(delta)
                changes.buckets[bucketKey] = bucket
            }
            let leaseKey = CounterKey(scope: key, metric: .concurrency)
            var leases = try txn.leases(leaseKey)
            leases.release(id: ticket.leaseID)
            leases.prune(at: now)
            changes.leases[leaseKey] = leases
        }
        if ticket.reserved {
            let key = CounterKey(scope: ticket.request.reserved, metric: .reservedTokensPerSecond)
            if var bucket = try txn.bucket(key) {
                bucket.charge(delta)
                changes.buckets[key] = bucket
            }
        }
        try txn.write(changes)
    }

    /// The tightest per-minute request and token figures across the layers, before this request.
    private func rateLimitSnapshot(
        _ scopes: AdmissionRequest.Scopes, _ limits: EffectiveLimits, _ windows: [CounterKey: SlidingWindow]
    ) -> RateLimitSnapshot {
        var snapshot = RateLimitSnapshot.unlimited
        for layer in Self.layers {
            let key = scope(layer, scopes)
            let set = limits.limits(for: layer)
            if let limit = set.requestsPerMinute.map(Int64.init) {
                let window = windows[CounterKey(scope: key, metric: .requestsPerMinute)] ?? .perMinute()
                let remaining = max(0, limit - window.total(at: now))
                if snapshot.remainingRequests.map({ remaining < $0 }) ?? true {
                    snapshot.limitRequests = limit
                    snapshot.remainingRequests = remaining
                    snapshot.resetRequestsMillis = window.wait(toAdd: 1, limit: limit, at: now) ?? 60_000
                }
            }
            if let limit = set.tokensPerMinute.map(Int64.init) {
                let window = windows[CounterKey(scope: key, metric: .tokensPerMinute)] ?? .perMinute()
                let remaining = max(0, limit - window.total(at: now))
                if snapshot.remainingTokens.map({ remaining < $0 }) ?? true {
                    snapshot.limitTokens = limit
                    snapshot.remainingTokens = remaining
                    snapshot.resetTokensMillis = window.wait(toAdd: 1, limit: limit, at: now) ?? 60_000
                }
            }
        }
        return snapshot
    }
}

/// New counter values to write when a decision commits.
struct CounterChanges {
    var windows: [CounterKey: SlidingWindow] = [:]
    var buckets: [CounterKey: TokenBucket] = [:]
    var leases: [CounterKey: LeaseSet] = [:]
}

extension CounterAccess {
    func write(_ changes: CounterChanges) throws {
        for (key, window) in changes.windows { try put(key, window) }
        for (key, bucket) in changes.buckets { try put(key, bucket) }
        for (key, leases) in changes.leases { try put(key, leases) }
    }
}
