@testable import AirlockCounters
import Testing

@Suite struct SlidingWindowTests {
    /// Admit-if-fits against the window for random arrivals over five minutes, then check every
    /// true 60 s window (to the millisecond) holds at most the limit.
    @Test func neverAdmitsMoreThanTheLimitInAnyWindow() {
        let buffer = ScopeCounterBuffer(count: 1)
        var generator = SystemRandomNumberGenerator()
        let limit: Int64 = 50
        var admitted: [Int64] = []
        var now: Int64 = 1_800_000_000_000
        for _ in 0..<5_000 {
            now += Int64.random(in: 0...120, using: &generator)
            buffer[0].advance(to: now)
            if buffer[0].total(.requestsPerMinute) + 1 <= limit {
                buffer[0].add(.requestsPerMinute, 1, at: now)
                admitted.append(now)
            }
        }
        var start = 0
        for end in admitted.indices {
            while admitted[end] - admitted[start] >= 60_000 { start += 1 }
            #expect(end - start + 1 <= Int(limit))
        }
        #expect(admitted.count > 200)  // and it does admit: the window slides
    }

    /// The running total always equals a recount from scratch, across long gaps and clocks
    /// that step back.
    @Test func runningTotalsMatchARecount() {
        let buffer = ScopeCounterBuffer(count: 1)
        var events: [(Int64, Int64)] = []
        var generator = SystemRandomNumberGenerator()
        var now: Int64 = 1_800_000_000_000
        for step in 0..<3_000 {
            now += step % 500 == 0 ? 200_000 : Int64.random(in: -300...2_000, using: &generator)
            buffer[0].advance(to: now)
            let amount = Int64.random(in: 0...9, using: &generator)
            buffer[0].add(.tokensPerMinute, amount, at: now)
            events.append((now, amount))
            let head = events.map(\.0).max()! / 1_000
            let recount = events.filter { $0.0 / 1_000 > head - 61 }.reduce(0) { $0 + $1.1 }
            #expect(buffer[0].total(.tokensPerMinute) == recount)
        }
    }

    @Test func waitSaysWhenRoomFrees() {
        let buffer = ScopeCounterBuffer(count: 1)
        let t: Int64 = 1_800_000_000_500
        buffer[0].advance(to: t)
        buffer[0].add(.requestsPerMinute, 10, at: t)
        // The row added at t stops counting 60.5 s after it (its bucket, plus one), never sooner than 60 s.
        buffer[0].advance(to: t + 1_000)
        #expect(buffer[0].wait(.requestsPerMinute, toAdd: 1, limit: 10, at: t + 1_000) == 59_500)
        #expect(buffer[0].wait(.requestsPerMinute, toAdd: 11, limit: 10, at: t + 1_000) == nil)
        buffer[0].advance(to: t + 61_000)
        #expect(buffer[0].total(.requestsPerMinute) == 0)
    }

    @Test func adjustmentsToBucketsThatLeftTheWindowAreDropped() {
        let buffer = ScopeCounterBuffer(count: 1)
        let t: Int64 = 1_800_000_000_000
        buffer[0].advance(to: t)
        buffer[0].add(.tokensPerMinute, 100, at: t)
        buffer[0].advance(to: t + 30_000)
        buffer[0].add(.tokensPerMinute, -40, at: t)
        #expect(buffer[0].total(.tokensPerMinute) == 60)
        buffer[0].add(.tokensPerMinute, -1_000, at: t)
        #expect(buffer[0].total(.tokensPerMinute) == 0)
        buffer[0].advance(to: t + 120_000)
        buffer[0].add(.tokensPerMinute, 5, at: t)
        #expect(buffer[0].total(.tokensPerMinute) == 0)
    }

    @Test func theDayWindowKeepsADayIn15MinuteBuckets() {
        let buffer = ScopeCounterBuffer(count: 1)
        let t: Int64 = 1_800_000_000_000
        buffer[0].advance(to: t)
        buffer[0].add(.tokensPerDay, 1_000, at: t)
        buffer[0].advance(to: t + 86_000_000)
        #expect(buffer[0].total(.tokensPerDay) == 1_000)
        #expect(buffer[0].total(.tokensPerMinute) == 0)
        buffer[0].advance(to: t + 86_400_000 + 900_000)
        #expect(buffer[0].total(.tokensPerDay) == 0)
    }

    @Test func encodingRoundTripsAndRefusesTheWrongShape() {
        // Format 2's record size: a change here is a new `CounterStore.formatVersion`.
        #expect(ScopeCounters.byteCount == 1_824)
        let buffer = ScopeCounterBuffer(count: 2)
        buffer[0].advance(to: 1_800_000_000_000)
        buffer[0].add(.tokensPerDay, 7, at: 1_800_000_000_000)
        buffer[0].tokenBucket = TokenBucket(full: 5, burstSeconds: 1, at: 0)
        buffer[0].concurrency = 3
        let bytes = Array(buffer[0].bytes)
        #expect(bytes.withUnsafeBytes { buffer[1].load($0) })
        #expect(Array(buffer[1].bytes) == bytes)
        #expect(buffer[1].tokenBucket == TokenBucket(full: 5, burstSeconds: 1, at: 0) && buffer[1].concurrency == 3)
        #expect(!bytes.dropLast(8).withUnsafeBytes { buffer[1].load(UnsafeRawBufferPointer(rebasing: $0[...])) })
        var wrongTag = bytes
        wrongTag[0] ^= 1
        #expect(!wrongTag.withUnsafeBytes { buffer[1].load($0) })
        buffer[1].reset()
        #expect(buffer[1].tokenBucket == nil && buffer[1].concurrency == 0)
    }
}

@Suite struct TokenBucketTests {
    @Test func refillsToCapacityAndLetsOneLargeRequestIntoDebt() {
        var bucket = TokenBucket(full: 100, burstSeconds: 1, at: 0)
        bucket.charge(1_000)
        #expect(bucket.inDebt)
        #expect(bucket.wait(rate: 100) == 9_001)
        bucket.refill(rate: 100, burstSeconds: 1, at: 9_000)
        #expect(bucket.inDebt)
        bucket.refill(rate: 100, burstSeconds: 1, at: 9_010)
        #expect(!bucket.inDebt)
        bucket.refill(rate: 100, burstSeconds: 1, at: 1_000_000)
        #expect(bucket.levelMilli == 100_000)
    }
}

@Suite struct LeaseTests {
    @Test func leaseKeysSortByExpiryAndRoundTrip() {
        let early = Lease(id: Int64.max, expiresMillis: 1_000)
        let late = Lease(id: 1, expiresMillis: 2_000)
        #expect(early.key.lexicographicallyPrecedes(late.key))
        #expect(late.key.withUnsafeBytes { Lease(key: $0) } == late)
        #expect(early.key.withUnsafeBytes { Lease(key: $0) } == early)
        #expect(Array("l|short".utf8).withUnsafeBytes { Lease(key: $0) } == nil)
        let scopes = ["g", "o:org_1", "e:env_1", "k:key_1"]
        #expect(Lease.encode(scopes: scopes).withUnsafeBytes { Lease.decode(scopes: $0) } == scopes)
    }
}
