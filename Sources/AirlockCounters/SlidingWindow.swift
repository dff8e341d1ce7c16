/// A sliding-window counter (requests/min, tokens/min, tokens/day) kept as a ring of buckets.
///
/// Precision: the window of `span` is tracked in buckets of `width`, plus one extra bucket. A
/// check at time t counts every bucket that overlaps (t − span, t], so it counts *at least*
/// everything in the true window: it never admits more than the limit in any window of length
/// `span`, and may refuse early by at most one bucket's worth of age (1 s of a minute window,
/// 15 min of a day window).
public struct SlidingWindow: Equatable, Sendable {
    public let widthMillis: Int64
    public let bucketCount: Int
    /// Slot i holds (bucket number, amount); bucket number = time ÷ width.
    private var slots: [(index: Int64, amount: Int64)]

    public static func == (lhs: SlidingWindow, rhs: SlidingWindow) -> Bool {
        lhs.widthMillis == rhs.widthMillis && lhs.slots.map(\.index) == rhs.slots.map(\.index)
            && lhs.slots.map(\.amount) == rhs.slots.map(\.amount)
    }

    /// A window of `spanSeconds` in buckets of `widthSeconds` (span must be a multiple of width).
    public init(spanSeconds: Int64, widthSeconds: Int64) {
        precondition(spanSeconds > 0 && widthSeconds > 0 && spanSeconds % widthSeconds == 0)
        widthMillis = widthSeconds * 1000
        bucketCount = Int(spanSeconds / widthSeconds) + 1
        slots = Array(repeating: (index: -1, amount: 0), count: bucketCount)
    }

    public static func perMinute() -> SlidingWindow { SlidingWindow(spanSeconds: 60, widthSeconds: 1) }
    public static func perDay() -> SlidingWindow { SlidingWindow(spanSeconds: 86_400, widthSeconds: 900) }

    private func current(_ nowMillis: Int64) -> Int64 { nowMillis / widthMillis }

    private func isLive(_ index: Int64, now: Int64) -> Bool {
        index >= 0 && index > current(now) - Int64(bucketCount)
    }

    /// Everything counted in the window ending now.
    public func total(at nowMillis: Int64) -> Int64 {
        slots.reduce(0) { $0 + (isLive($1.index, now: nowMillis) ? $1.amount : 0) }
    }

    /// Adds `amount` to the bucket holding `instant` (now, or an earlier admission being trued
    /// up). An adjustment for a bucket that has already left the window is dropped: it can no
    /// longer affect any decision. Totals never go below zero.
    public mutating func add(_ amount: Int64, at instant: Int64, now nowMillis: Int64) {
        let index = instant / widthMillis
        guard isLive(index, now: nowMillis), index <= current(nowMillis) else { return }
        let slot = Int(index % Int64(bucketCount))
        if slots[slot].index != index { slots[slot] = (index, 0) }
        slots[slot].amount = max(0, slots[slot].amount + amount)
    }

    /// Milliseconds until `amount` more would fit under `limit`, or nil if it never can
    /// (`amount` alone exceeds the limit).
    public func wait(toAdd amount: Int64, limit: Int64, at nowMillis: Int64) -> Int64? {
        guard amount <= limit else { return nil }
        var excess = total(at: nowMillis) + amount - limit
        if excess <= 0 { return 0 }
        let live = slots.filter { isLive($0.index, now: nowMillis) && $0.amount > 0 }.sorted { $0.index < $1.index }
        for slot in live {
            excess -= slot.amount
            if excess <= 0 {
                // This bucket stops counting once it is `bucketCount` buckets old.
                return (slot.index + Int64(bucketCount)) * widthMillis - nowMillis
            }
        }
        return nil
    }

    var encoded: [UInt8] {
        ByteCoding.encode([widthMillis, Int64(bucketCount)] + slots.flatMap { [$0.index, $0.amount] })
    }

    init?(encoded bytes: [UInt8], matching template: SlidingWindow) {
        guard let numbers = ByteCoding.decode(bytes), numbers.count == 2 + 2 * template.bucketCount,
              numbers[0] == template.widthMillis, numbers[1] == Int64(template.bucketCount)
        else { return nil }
        self = template
        for slot in 0..<bucketCount { slots[slot] = (numbers[2 + 2 * slot], numbers[3 + 2 * slot]) }
    }
}
