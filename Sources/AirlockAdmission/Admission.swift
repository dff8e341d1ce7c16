import AirlockCore
import AirlockCounters
import Synchronization

/// The four-layer admission policy (seed 004 §§ 13–18, 28, 33) over the LMDB counters.
///
/// One LMDB write transaction per decision reads and checks every layer — global, org, env,
/// key — for requests/min, tokens/min, tokens/s, concurrency and tokens/day, and only if all
/// pass charges them all and commits. A refusal writes no counter (only expired leases it swept
/// on the way are given back): a request is admitted everywhere or nowhere, and a refused
/// request costs nothing.
/// LMDB allows one writer at a time, so decisions are serialised and exact under contention.
///
/// Reserved capacity: an org holding CUs for the model (1 CU = 1 token/s) draws from its own
/// token bucket first; while that bucket is not in debt the request is *reserved*: the global
/// layer is charged but not checked, and it is never shed. Beyond its CUs an org is serverless
/// like everyone else. Shedding: when the global layer is full or the pool reports saturation,
/// serverless requests get 429 `server_busy`.
public final class Admission: @unchecked Sendable {
    // @unchecked: `scopes` is mutable memory touched only inside LMDB write transactions, which
    // run one at a time (the writer lock); everything else is immutable or atomic.
    private let counters: CounterStore
    private let limits: @Sendable (AdmissionRequest) -> EffectiveLimits
    private let poolSaturated: @Sendable () -> Bool
    private let clock: WallClock
    /// How long a concurrency slot is held if its request is never settled (crash, lost task).
    public let leaseMillis: Int64
    /// Burst allowance of the tokens/s buckets, in seconds of rate.
    public let burstSeconds: Int64 = 1
    /// The four layers' records during a decision, reused so a decision allocates nothing big.
    private let scopes = ScopeCounterBuffer(count: 4)
    /// No lease expires before this instant, so until then admissions skip the sweep's cursor
    /// seek. Stored only after a commit, so a rolled-back sweep is redone. It only grows (the
    /// earliest lease's expiry, or now + leaseMillis), so a racing store of an older value only
    /// costs one needless sweep.
    private let nextSweepMillis = Atomic<Int64>(.min)

    public init(
        counters: CounterStore, clock: WallClock = .system, leaseMillis: Int64 = 600_000,
        poolSaturated: @escaping @Sendable () -> Bool = { false },
        limits: @escaping @Sendable (AdmissionRequest) -> EffectiveLimits
    ) {
        self.counters = counters
        self.limits = limits
        self.poolSaturated = poolSaturated
        self.clock = clock
        self.leaseMillis = leaseMillis
    }

    public func admit(_ request: AdmissionRequest) throws -> AdmissionDecision {
        let now = clock.now().value
        let limits = limits(request)
        if let refusal = Self.requestCapRefusal(request, limits) { return .refused(refusal) }
        let prepared = PreparedRequest(request)
        let sweepDue = now >= nextSweepMillis.load(ordering: .relaxed)
        let (decision, nextExpiry) = try counters.environment.write { txn in
            try CounterTransaction(txn: txn, now: now, burstSeconds: burstSeconds, scopes: scopes)
                .admit(prepared, limits: limits, leaseMillis: leaseMillis, sweepDue: sweepDue, poolSaturated: poolSaturated)
        }
        // Any lease written from now on expires at now + leaseMillis or later.
        if sweepDue { nextSweepMillis.store(nextExpiry ?? now + leaseMillis, ordering: .relaxed) }
        return decision
    }

    /// Keeps a running request's concurrency slots past `leaseMillis` from now: a stream can run
    /// longer than the lease (32,768 tokens at 30 tokens/s is 18 minutes), and an expired lease
    /// gives its slots back while the request still holds the engine. Returns the ticket to
    /// settle with (its lease moved), or the ticket unchanged if the lease had already expired.
    /// Expiries only move later, so the cached next-sweep instant stays true.
    public func renew(_ ticket: AdmissionTicket) throws -> AdmissionTicket {
        let now = clock.now().value
        let renewed = try counters.environment.write { txn in
            try CounterAccess(txn: txn).renew(ticket.lease, until: now + leaseMillis)
        }
        var ticket = ticket
        if let renewed { ticket.lease = renewed }
        return ticket
    }

    /// Trues up the ticket's estimate to what the engine reported and frees its slots. Call it
    /// once per ticket: slots are freed only while the lease is held (a second call, or one
    /// after the lease expired, frees nothing), but a second call would true up tokens again.
    public func settle(_ ticket: AdmissionTicket, actualTokens: Int64) throws {
        let now = clock.now().value
        try counters.environment.write { txn in
            try CounterTransaction(txn: txn, now: now, burstSeconds: burstSeconds, scopes: scopes).settle(ticket, actualTokens: actualTokens)
        }
    }

    private static func requestCapRefusal(_ request: AdmissionRequest, _ limits: EffectiveLimits) -> AdmissionRefusal? {
        if request.bodyBytes > limits.maxRequestBytes {
            return AdmissionRefusal(layer: .request, limit: .maxRequestBytes, limitValue: Int64(limits.maxRequestBytes),
                                    retryAfterMillis: nil, rateLimits: .unlimited)
        }
        if request.maxTokens > Int64(limits.maxTokensPerRequest) || request.maxTokens < 0 || request.promptTokens < 0 {
            return AdmissionRefusal(layer: .request, limit: .maxTokensPerRequest, limitValue: Int64(limits.maxTokensPerRequest),
                                    retryAfterMillis: nil, rateLimits: .unlimited)
        }
        return nil
    }
}
