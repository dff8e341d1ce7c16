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
    /// Stored flat, as it sits in LMDB: `[width, count, index₀, amount₀, index₁, amount₁, …]`,
    /// where slot i holds bucket number `index` (time ÷ width) and its amount. Flat so that
    /// reading and writing a counter is one memory copy.
    private var numbers: [Int64]

    /// A window of `spanSeconds` in buckets of `widthSeconds` (span must be a multiple of width).
    public init(spanSeconds: Int64, widthSeconds: Int64) {
        precondition(spanSeconds > 0 && widthSeconds > 0 && spanSeconds % widthSeconds == 0)
        widthMillis = widthSeconds * 1000
        bucketCount = Int(spanSeconds / widthSeconds) + 1
        numbers = [widthMillis, Int64(bucketCount)]
        for _ in 0..<bucketCount { numbers += [-1, 0] }
    }

    @inline(__always) private func index(_ slot: Int) -> Int64 { numbers[2 + 2 * slot] }
    @inline(__always) private func amount(_ slot: Int) -> Int64 { numbers[3 + 2 * slot] }

    public static func perMinute() -> SlidingWindow { SlidingWindow(spanSeconds: 60, widthSeconds: 1) }
    public static func perDay() -> SlidingWindow { SlidingWindow(spanSeconds: 86_400, widthSeconds: 900) }

    private func current(_ nowMillis: Int64) -> Int64 { nowMillis / widthMillis }

    private func isLive(_ index: Int64, now: Int64) -> Bool {
        index >= 0 && index > current(now) - Int64(bucketCount)
    }

    /// Everything counted in the window ending now.
    public func total(at nowMillis: Int64) -> Int64 {
        var sum: Int64 = 0
        for slot in 0..<bucketCount where isLive(index(slot), now: nowMillis) { sum += amount(slot) }
        return sum
    }

    /// Adds `amount` to the bucket holding `instant` (now, or an earlier admission being trued
    /// up). An adjustment for a bucket that has already left the window is dropped: it can no
    /// longer affect any decision. Totals never go below zero.
    public mutating func add(_ amount: Int64, at instant: Int64, now nowMillis: Int64) {
        let index = instant / widthMillis
        guard isLive(index, now: nowMillis), index <= current(nowMillis) else { return }
        let slot = Int(index % Int64(bucketCount))
        if self.index(slot) != index {
            numbers[2 + 2 * slot] = index
            numbers[3 + 2 * slot] = 0
        }
        numbers[3 + 2 * slot] = max(0, self.amount(slot) + amount)
    }

    /// Milliseconds until `extra` more would fit under `limit`, or nil if it never can
    /// (`extra` alone exceeds the limit).
    public func wait(toAdd extra: Int64, limit: Int64, at nowMillis: Int64) -> Int64? {
        guard extra <= limit else { return nil }
        var excess = total(at: nowMillis) + extra - limit
        if excess <= 0 { return 0 }
        let live = (0..<bucketCount).filter { isLive(index($0), now: nowMillis) && amount($0) > 0 }.sorted { index($0) < index($1) }
        for slot in live {
            excess -= amount(slot)
            if excess <= 0 {
                // This bucket stops counting once it is `bucketCount` buckets old.
                return (index(slot) + Int64(bucketCount)) * widthMillis - nowMillis
            }
        }
        return nil
    }

    var stored: [Int64] { numbers }

    /// Reads a stored window; nil unless it has exactly the template's shape.
    init?(stored numbers: [Int64], matching template: SlidingWindow) {
        guard numbers.count == 2 + 2 * template.bucketCount, numbers[0] == template.widthMillis,
              numbers[1] == Int64(template.bucketCount)
        else { return nil }
        self = template
        self.numbers = numbers
    }
}
