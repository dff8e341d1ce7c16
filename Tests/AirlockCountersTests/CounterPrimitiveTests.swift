@testable import AirlockCounters
import Testing

@Suite struct SlidingWindowTests {
    /// Admit-if-fits against the window for random arrivals over five minutes, then check every
    /// true 60 s window (to the millisecond) holds at most the limit.
    @Test func neverAdmitsMoreThanTheLimitInAnyWindow() {
        var window = SlidingWindow.perMinute()
        var generator = SystemRandomNumberGenerator()
        let limit: Int64 = 50
        var admitted: [Int64] = []
        var now: Int64 = 1_800_000_000_000
        for _ in 0..<5_000 {
            now += Int64.random(in: 0...120, using: &generator)
            if window.total(at: now) + 1 <= limit {
                window.add(1, at: now, now: now)
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

    @Test func waitSaysWhenRoomFrees() {
        var window = SlidingWindow.perMinute()
        let t: Int64 = 1_800_000_000_500
        window.add(10, at: t, now: t)
        // The row added at t stops counting 60.5 s after it (its bucket, plus one), never sooner than 60 s.
        #expect(window.wait(toAdd: 1, limit: 10, at: t + 1_000) == 59_500)
        #expect(window.wait(toAdd: 11, limit: 10, at: t) == nil)
        #expect(window.total(at: t + 61_000) == 0)
    }

    @Test func adjustmentsToBucketsThatLeftTheWindowAreDropped() {
        var window = SlidingWindow.perMinute()
        let t: Int64 = 1_800_000_000_000
        window.add(100, at: t, now: t)
        window.add(-40, at: t, now: t + 30_000)
        #expect(window.total(at: t + 30_000) == 60)
        window.add(-1_000, at: t, now: t + 30_000)
        #expect(window.total(at: t + 30_000) == 0)
        window.add(5, at: t, now: t + 120_000)
        #expect(window.total(at: t + 120_000) == 0)
    }

    @Test func encodingRoundTripsAndRefusesTheWrongShape() {
        var window = SlidingWindow.perDay()
        window.add(7, at: 1_800_000_000_000, now: 1_800_000_000_000)
        #expect(SlidingWindow(stored: window.stored, matching: .perDay()) == window)
        #expect(SlidingWindow(stored: window.stored, matching: .perMinute()) == nil)
        #expect(SlidingWindow(stored: [1, 2, 3], matching: .perDay()) == nil)
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

@Suite struct LeaseSetTests {
    @Test func expiredLeasesFreeTheirSlots() {
        var leases = LeaseSet()
        leases.add(id: 1, expiresMillis: 100)
        leases.add(id: 2, expiresMillis: 200)
        leases.prune(at: 150)
        #expect(leases.count == 1)
        let first = leases.release(id: 2)
        let second = leases.release(id: 2)
        #expect(first && !second)
        #expect(LeaseSet(stored: leases.stored) == leases)
    }
}
