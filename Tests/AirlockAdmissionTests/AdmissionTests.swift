import AirlockAdmission
import AirlockCore
import AirlockCounters
import AirlockTestSupport
import Testing

/// Admission over a real LMDB environment in a temporary directory, with a hand-moved clock and
/// limits the test can change between calls.
final class AdmissionFixture: Sendable {
    let dir = TemporaryDirectory()
    let clock = ManualClock()
    let counters: CounterStore
    let limits: Shared<EffectiveLimits>
    let saturated = Shared(false)
    let admission: Admission

    static let open = EffectiveLimits(global: LimitSet(), org: LimitSet(), env: LimitSet(), key: LimitSet(),
                                      maxTokensPerRequest: 4_096, maxRequestBytes: 1 << 20)

    init(_ limits: EffectiveLimits = AdmissionFixture.open, leaseMillis: Int64 = 60_000) throws {
        counters = try CounterStore(dataDirectory: dir.path)
        let box = Shared(limits)
        let saturated = self.saturated
        self.limits = box
        admission = Admission(counters: counters, clock: clock.wallClock, leaseMillis: leaseMillis,
                              poolSaturated: { saturated.value }, limits: { _ in box.value })
    }

    func request(org: String = "org_00000000000000a1", env: String = "env_00000000000000b1",
                 key: String = "key_00000000000000c1", tokens: Int64 = 10, maxTokens: Int64 = 0, bytes: Int = 100) -> AdmissionRequest {
        AdmissionRequest(orgID: OrgID(unchecked: org), envID: EnvID(unchecked: env), keyID: KeyID(unchecked: key),
                         model: "llama-3-8b", promptTokens: tokens, maxTokens: maxTokens, bodyBytes: bytes)
    }

    func refusal(_ decision: AdmissionDecision) -> AdmissionRefusal? {
        if case let .refused(refusal) = decision { return refusal }
        return nil
    }

    func ticket(_ decision: AdmissionDecision) -> AdmissionTicket? {
        if case let .admitted(ticket) = decision { return ticket }
        return nil
    }
}

@Suite struct AdmissionTests {
    @Test func manyTasksHammeringOneKeyNeverGetMoreThanTheLimit() async throws {
        var limits = AdmissionFixture.open
        limits.key = LimitSet(requestsPerMinute: 100)
        let f = try AdmissionFixture(limits)
        let admitted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var count = 0
                    for _ in 0..<50 where (try? f.admission.admit(f.request())).flatMap(f.ticket) != nil { count += 1 }
                    return count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(admitted == 100)
        let refusal = f.refusal(try f.admission.admit(f.request()))
        #expect(refusal?.layer == .key && refusal?.limit == .requestsPerMinute && refusal?.httpStatus == 429)
        #expect(refusal?.code == "rate_limit_exceeded")
        #expect((refusal?.retryAfterMillis ?? 0) > 59_000)
        f.clock.advance(seconds: 61)
        #expect(f.ticket(try f.admission.admit(f.request())) != nil)
    }

    @Test func aRefusalAtOneLayerChargesNoLayer() throws {
        var limits = AdmissionFixture.open
        limits.env = LimitSet(tokensPerMinute: 100)
        limits.key = LimitSet(requestsPerMinute: 3)
        let f = try AdmissionFixture(limits)
        #expect(f.ticket(try f.admission.admit(f.request(tokens: 80))) != nil)
        // Refused by env tokens/min: must not use one of the key's three requests.
        #expect(f.refusal(try f.admission.admit(f.request(tokens: 80)))?.layer == .env)
        #expect(f.refusal(try f.admission.admit(f.request(tokens: 80)))?.layer == .env)
        #expect(f.ticket(try f.admission.admit(f.request(tokens: 10))) != nil)
        #expect(f.ticket(try f.admission.admit(f.request(tokens: 10))) != nil)
        #expect(f.refusal(try f.admission.admit(f.request(tokens: 0)))?.layer == .key)
    }

    @Test func anExpiredLeaseFreesItsSlotAndSettlingFreesItAtOnce() throws {
        var limits = AdmissionFixture.open
        limits.key = LimitSet(concurrency: 2)
        let f = try AdmissionFixture(limits, leaseMillis: 30_000)
        let first = try #require(f.ticket(try f.admission.admit(f.request())))
        _ = try #require(f.ticket(try f.admission.admit(f.request())))
        let refused = try #require(f.refusal(try f.admission.admit(f.request())))
        #expect(refused.limit == .concurrency && refused.retryAfterMillis == 1_000)
        try f.admission.settle(first, actualTokens: 5)
        #expect(f.ticket(try f.admission.admit(f.request())) != nil)
        #expect(f.refusal(try f.admission.admit(f.request())) != nil)
        // Nobody settles the other two (their process "crashed"): the leases run out.
        f.clock.advance(seconds: 30)
        #expect(f.ticket(try f.admission.admit(f.request())) != nil)
    }

    @Test func aLateSettlementOfAnExpiredLeaseDoesNotFreeASlotTwice() throws {
        var limits = AdmissionFixture.open
        limits.key = LimitSet(concurrency: 2)
        let f = try AdmissionFixture(limits, leaseMillis: 30_000)
        let stale = try (0..<2).map { _ in try #require(f.ticket(try f.admission.admit(f.request()))) }
        f.clock.advance(seconds: 31)
        _ = try (0..<2).map { _ in try #require(f.ticket(try f.admission.admit(f.request()))) }
        // The first two settle after their leases ran out (and were swept): their slots were
        // already given back, so settling them must not free the new requests' slots.
        for ticket in stale { try f.admission.settle(ticket, actualTokens: 10) }
        #expect(f.refusal(try f.admission.admit(f.request()))?.limit == .concurrency)
        // Settling twice is harmless too.
        try f.admission.settle(stale[0], actualTokens: 10)
        #expect(f.refusal(try f.admission.admit(f.request()))?.limit == .concurrency)
    }

    @Test func aRenewedLeaseKeepsItsSlotPastItsFirstExpiryAndSettlesOnce() throws {
        var limits = AdmissionFixture.open
        limits.key = LimitSet(concurrency: 1)
        let f = try AdmissionFixture(limits, leaseMillis: 30_000)
        var stream = try #require(f.ticket(try f.admission.admit(f.request())))
        // A long stream renews a quarter-lease in, then runs past its first expiry.
        f.clock.advance(seconds: 20)
        stream = try f.admission.renew(stream)
        #expect(stream.lease.expiresMillis == f.clock.wallClock.now().value + 30_000)
        f.clock.advance(seconds: 20)
        #expect(f.refusal(try f.admission.admit(f.request()))?.limit == .concurrency, "the slot is still held")
        // Settled with the renewed ticket, the slot comes back once.
        try f.admission.settle(stream, actualTokens: 10)
        let next = try #require(f.ticket(try f.admission.admit(f.request())))
        try f.admission.settle(stream, actualTokens: 10)
        #expect(f.refusal(try f.admission.admit(f.request()))?.limit == .concurrency, "not freed twice")
        try f.admission.settle(next, actualTokens: 10)
        // A lease that already ran out and was swept is not brought back by a renewal.
        let lapsed = try #require(f.ticket(try f.admission.admit(f.request())))
        f.clock.advance(seconds: 31)
        _ = try #require(f.ticket(try f.admission.admit(f.request())), "the sweep gave the lapsed slot back")
        #expect(try f.admission.renew(lapsed) == lapsed)
        #expect(f.refusal(try f.admission.admit(f.request()))?.limit == .concurrency, "one slot, held by the new request")
    }

    @Test func settlementTruesUpTokensToWhatTheEngineReported() throws {
        var limits = AdmissionFixture.open
        limits.org = LimitSet(tokensPerMinute: 1_000)
        let f = try AdmissionFixture(limits)
        let ticket = try #require(f.ticket(try f.admission.admit(f.request(tokens: 100, maxTokens: 800))))
        #expect(f.refusal(try f.admission.admit(f.request(tokens: 100, maxTokens: 100)))?.limit == .tokensPerMinute)
        try f.admission.settle(ticket, actualTokens: 150)
        #expect(f.ticket(try f.admission.admit(f.request(tokens: 100, maxTokens: 700))) != nil)
    }

    @Test func reservedTrafficPassesWhileServerlessIsShed() throws {
        var limits = AdmissionFixture.open
        limits.global = LimitSet(concurrency: 1)
        let f = try AdmissionFixture(limits)
        _ = try #require(f.ticket(try f.admission.admit(f.request(org: "org_000000000000000a"))))
        let shed = try #require(f.refusal(try f.admission.admit(f.request(org: "org_000000000000000b"))))
        #expect(shed.code == "server_busy" && shed.httpStatus == 429 && shed.layer == .global)

        f.limits.update { $0.reservedTokensPerSecond = 500 }
        let reserved = try #require(f.ticket(try f.admission.admit(f.request(org: "org_000000000000000c", tokens: 100))))
        #expect(reserved.reserved)
        // Pool saturation sheds serverless only.
        f.saturated.update { $0 = true }
        f.limits.update { $0.reservedTokensPerSecond = 0 }
        #expect(f.refusal(try f.admission.admit(f.request(org: "org_000000000000000d")))?.limit == .poolSaturated)
        f.limits.update { $0.reservedTokensPerSecond = 500 }
        #expect(f.ticket(try f.admission.admit(f.request(org: "org_000000000000000e", tokens: 100))) != nil)
    }

    @Test func reservedBeyondItsCapacityUnitsIsServerless() throws {
        var limits = AdmissionFixture.open
        limits.reservedTokensPerSecond = 100
        let f = try AdmissionFixture(limits)
        let first = try #require(f.ticket(try f.admission.admit(f.request(tokens: 300))))
        #expect(first.reserved)
        let second = try #require(f.ticket(try f.admission.admit(f.request(tokens: 10))))
        #expect(!second.reserved)
    }

    @Test func aDailyQuotaIsA403QuotaExceeded() throws {
        var limits = AdmissionFixture.open
        limits.org = LimitSet(tokensPerDay: 1_000)
        let f = try AdmissionFixture(limits)
        #expect(f.ticket(try f.admission.admit(f.request(tokens: 900))) != nil)
        let refusal = try #require(f.refusal(try f.admission.admit(f.request(tokens: 200))))
        #expect(refusal.httpStatus == 403 && refusal.code == "quota_exceeded" && refusal.limit == .tokensPerDay)
        #expect((refusal.retryAfterMillis ?? 0) > 86_000_000)
    }

    @Test func perRequestCapsAreRefusedBeforeAnyCounterIsTouched() throws {
        let f = try AdmissionFixture()
        #expect(f.refusal(try f.admission.admit(f.request(bytes: 2 << 20)))?.limit == .maxRequestBytes)
        #expect(f.refusal(try f.admission.admit(f.request(maxTokens: 5_000)))?.limit == .maxTokensPerRequest)
        #expect(f.refusal(try f.admission.admit(f.request(tokens: -1)))?.httpStatus == 403)
    }

    @Test func limitChangesApplyToTheNextDecision() throws {
        let f = try AdmissionFixture()
        #expect(f.ticket(try f.admission.admit(f.request())) != nil)
        f.limits.update { $0.key = LimitSet(requestsPerMinute: 1) }
        #expect(f.refusal(try f.admission.admit(f.request()))?.limit == .requestsPerMinute)
        f.limits.update { $0.key = LimitSet(requestsPerMinute: 10) }
        #expect(f.ticket(try f.admission.admit(f.request())) != nil)
    }

    /// What remains is reported after counting the admitted request itself, as OpenAI does.
    @Test func rateLimitHeadersReportTheTightestLayer() throws {
        var limits = AdmissionFixture.open
        limits.org = LimitSet(requestsPerMinute: 100, tokensPerMinute: 10_000)
        limits.key = LimitSet(requestsPerMinute: 5)
        let f = try AdmissionFixture(limits)
        _ = try f.admission.admit(f.request(tokens: 100))
        let ticket = try #require(f.ticket(try f.admission.admit(f.request(tokens: 100))))
        #expect(ticket.rateLimits.limitRequests == 5 && ticket.rateLimits.remainingRequests == 3)
        #expect(ticket.rateLimits.limitTokens == 10_000 && ticket.rateLimits.remainingTokens == 9_800)
    }
}
