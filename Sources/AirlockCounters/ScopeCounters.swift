/// Every counter of one scope — the global layer, an org, an env or a key — in one fixed-size
/// LMDB record: three sliding windows, a token bucket and a concurrency count. One record per
/// scope means a decision reads and writes four records, not twenty; measured, the per-key
/// layout spent most of a decision in B-tree lookups and page copies.
///
/// Sliding windows are rings of buckets with a head (the newest bucket number) and a running
/// total, so checking a window is O(1) and moving it forward is amortised O(1).
///
/// Precision: a window of `span` is kept in buckets of `width`, plus one extra bucket. A check at
/// time t counts every bucket that overlaps (t − span, t], so it counts *at least* everything in
/// the true window: it never admits more than the limit in any window of length `span`, and may
/// refuse early by at most one bucket's worth of age (1 s of a minute, 15 min of a day).
///
/// A `ScopeCounters` is a view over one record's slots in a ``ScopeCounterBuffer``, so a decision
/// changes its four records in place: passing 1.8 KB values around was a sixth of its time.
public struct ScopeCounters {
    /// Record tag and format: "ALKS" then the layout version. A record without it is damage.
    static let magic: Int64 = 0x414C_4B53_0002
    /// Slots before the windows' running totals (the `Slot` enum below).
    static let fixedSlots = 6
    static let slotCount = CounterWindow.tokensPerDay.ringBase + CounterWindow.tokensPerDay.bucketCount
    public static let byteCount = slotCount * 8

    private enum Slot {
        static let magic = 0
        static let minuteHead = 1
        static let dayHead = 2
        static let bucketLevel = 3
        static let bucketUpdated = 4
        static let concurrency = 5
    }
    /// Marks "no token bucket yet" in the bucketUpdated slot.
    private static let noBucket = Int64.min

    private let slots: UnsafeMutablePointer<Int64>

    init(slots: UnsafeMutablePointer<Int64>) { self.slots = slots }

    /// Empties the record: nothing counted, no token bucket, no slot held.
    public func reset() {
        slots.update(repeating: 0, count: Self.slotCount)
        slots[Slot.magic] = Self.magic
        slots[Slot.minuteHead] = -1
        slots[Slot.dayHead] = -1
        slots[Slot.bucketUpdated] = Self.noBucket
    }

    /// Replaces the record with a stored one; false, leaving it unusable, unless the bytes have
    /// exactly this layout's size and tag.
    public func load(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count == Self.byteCount else { return false }
        UnsafeMutableRawPointer(slots).copyMemory(from: bytes.baseAddress!, byteCount: Self.byteCount)
        return slots[Slot.magic] == Self.magic
    }

    /// The record's bytes in place (host byte order: the file never leaves this machine).
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: slots, count: Self.byteCount) }

    // MARK: Sliding windows

    /// Moves every window forward to `nowMillis`: buckets that left a window are emptied and
    /// taken off its total. Call once per transaction before reading totals.
    public func advance(to nowMillis: Int64) {
        advance(CounterWindow.requestsPerMinute, also: .tokensPerMinute, to: nowMillis)
        advance(CounterWindow.tokensPerDay, also: nil, to: nowMillis)
    }

    private func advance(_ window: CounterWindow, also sibling: CounterWindow?, to nowMillis: Int64) {
        let current = nowMillis / window.widthMillis
        let head = slots[window.headSlot]
        guard current > head else { return }  // a clock that steps back changes nothing
        if current - head >= Int64(window.bucketCount) {
            clear(window)
            if let sibling { clear(sibling) }
        } else {
            var bucket = head + 1
            while bucket <= current {
                expire(window, bucket)
                if let sibling { expire(sibling, bucket) }
                bucket += 1
            }
        }
        slots[window.headSlot] = current
    }

    private func clear(_ window: CounterWindow) {
        for slot in window.ringBase ..< window.ringBase + window.bucketCount { slots[slot] = 0 }
        slots[window.totalSlot] = 0
    }

    private func expire(_ window: CounterWindow, _ bucket: Int64) {
        let slot = window.slot(of: bucket)
        slots[window.totalSlot] -= slots[slot]
        slots[slot] = 0
    }

    /// Everything counted in the window as of the last ``advance(to:)``.
    public func total(_ window: CounterWindow) -> Int64 { slots[window.totalSlot] }

    /// Adds `amount` to the bucket holding `instant` (now, or an earlier admission being trued
    /// up). An adjustment for a bucket that has left the window is dropped: it can no longer
    /// affect a decision. A bucket never goes below zero.
    public func add(_ window: CounterWindow, _ amount: Int64, at instant: Int64) {
        let bucket = instant / window.widthMillis
        let head = slots[window.headSlot]
        guard bucket >= 0, bucket <= head, bucket > head - Int64(window.bucketCount) else { return }
        let slot = window.slot(of: bucket)
        let updated = max(0, slots[slot] &+ amount)
        slots[window.totalSlot] += updated - slots[slot]
        slots[slot] = updated
    }

    /// Milliseconds until `extra` more fits under `limit`, or nil if it never can (`extra`
    /// alone exceeds the limit). Walks the buckets oldest first: only called to explain a
    /// refusal or a reset time.
    public func wait(_ window: CounterWindow, toAdd extra: Int64, limit: Int64, at nowMillis: Int64) -> Int64? {
        guard extra <= limit else { return nil }
        var excess = total(window) + extra - limit
        if excess <= 0 { return 0 }
        let head = slots[window.headSlot]
        var bucket = max(0, head - Int64(window.bucketCount) + 1)
        while bucket <= head {
            excess -= slots[window.slot(of: bucket)]
            // This bucket stops counting once it is `bucketCount` buckets old.
            if excess <= 0 { return max(0, (bucket + Int64(window.bucketCount)) * window.widthMillis - nowMillis) }
            bucket += 1
        }
        return nil
    }

    /// Takes `ledger`'s sliding windows in place of this record's (a repair from the ledger),
    /// keeping the token bucket and the concurrency count. Both records are first moved to the
    /// later of their heads. With `keepingExcess`, a bucket where this record counted more than
    /// the ledger keeps its own count: it holds requests in flight, whose settlement will true
    /// them up against what was charged here.
    public func adoptWindows(from ledger: ScopeCounters, keepingExcess: Bool) {
        for (window, sibling) in [(CounterWindow.requestsPerMinute, CounterWindow.tokensPerMinute), (.tokensPerDay, nil)] {
            let head = max(slots[window.headSlot], ledger.slots[window.headSlot])
            guard head >= 0 else { continue }  // neither ever counted anything in this window
            advance(window, also: sibling, to: head * window.widthMillis)
            ledger.advance(window, also: sibling, to: head * window.widthMillis)
            for adopted in [window] + (sibling.map { [$0] } ?? []) {
                var total: Int64 = 0
                for slot in adopted.ringBase ..< adopted.ringBase + adopted.bucketCount {
                    slots[slot] = keepingExcess ? max(slots[slot], ledger.slots[slot]) : ledger.slots[slot]
                    total += slots[slot]
                }
                slots[adopted.totalSlot] = total
            }
        }
    }

    // MARK: Token bucket and concurrency

    /// The tokens/s bucket, nil until a tokens/s limit first applies to this scope.
    public var tokenBucket: TokenBucket? {
        get {
            slots[Slot.bucketUpdated] == Self.noBucket
                ? nil : TokenBucket(levelMilli: slots[Slot.bucketLevel], updatedMillis: slots[Slot.bucketUpdated])
        }
        nonmutating set {
            slots[Slot.bucketLevel] = newValue?.levelMilli ?? 0
            slots[Slot.bucketUpdated] = newValue?.updatedMillis ?? Self.noBucket
        }
    }

    /// Concurrency slots held now: one per unexpired lease that names this scope.
    public var concurrency: Int64 {
        get { slots[Slot.concurrency] }
        nonmutating set { slots[Slot.concurrency] = max(0, newValue) }
    }
}

/// Owns the memory of `count` scope records (allocated once, reused by every decision).
public final class ScopeCounterBuffer {
    private let memory: UnsafeMutablePointer<Int64>
    public let count: Int

    public init(count: Int) {
        self.count = count
        memory = .allocate(capacity: count * ScopeCounters.slotCount)
        memory.initialize(repeating: 0, count: count * ScopeCounters.slotCount)
        for index in 0..<count { self[index].reset() }
    }

    deinit { memory.deallocate() }

    /// The view of record `index`, valid while this buffer lives.
    public subscript(index: Int) -> ScopeCounters {
        precondition(index >= 0 && index < count)
        return ScopeCounters(slots: memory + index * ScopeCounters.slotCount)
    }
}

/// The windows a scope keeps, and where each lives in its record.
public enum CounterWindow: Sendable, CaseIterable {
    case requestsPerMinute
    case tokensPerMinute
    case tokensPerDay

    /// Bucket width: 1 s for the minute windows, 15 min for the day.
    public var widthMillis: Int64 { self == .tokensPerDay ? 900_000 : 1_000 }
    /// Buckets in the ring: the span's buckets plus one (see Precision above).
    public var bucketCount: Int { self == .tokensPerDay ? 97 : 61 }

    var headSlot: Int { self == .tokensPerDay ? 2 : 1 }
    /// The record is laid out as: fixed slots, one running total per window, then the rings in
    /// this enum's order (228 slots in all).
    private var order: Int {
        switch self {
        case .requestsPerMinute: return 0
        case .tokensPerMinute: return 1
        case .tokensPerDay: return 2
        }
    }
    var totalSlot: Int { ScopeCounters.fixedSlots + order }
    var ringBase: Int {
        switch self {
        case .requestsPerMinute: return ScopeCounters.fixedSlots + 3  // after the three totals
        case .tokensPerMinute: return Self.requestsPerMinute.ringBase + Self.requestsPerMinute.bucketCount
        case .tokensPerDay: return Self.tokensPerMinute.ringBase + Self.tokensPerMinute.bucketCount
        }
    }

    @inline(__always) func slot(of bucket: Int64) -> Int { ringBase + Int(bucket % Int64(bucketCount)) }
}
