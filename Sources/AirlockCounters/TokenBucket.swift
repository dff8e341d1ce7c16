/// A tokens/second limit as a token bucket that may go into debt.
///
/// The bucket refills at `rate` per second up to `rate × burstSeconds`. A request is admitted
/// while the bucket is not in debt and is charged its whole estimate, which may push the level
/// below zero; later requests wait until the debt is repaid. So one large request is never
/// refused outright by a small per-second rate, yet over time throughput cannot exceed `rate`
/// plus one burst. Levels are kept in milli-tokens so that refills are exact integers.
public struct TokenBucket: Equatable, Sendable {
    public private(set) var levelMilli: Int64
    public private(set) var updatedMillis: Int64

    public init(levelMilli: Int64, updatedMillis: Int64) {
        self.levelMilli = levelMilli
        self.updatedMillis = updatedMillis
    }

    public init(full rate: Int64, burstSeconds: Int64, at nowMillis: Int64) {
        levelMilli = rate * burstSeconds * 1000
        updatedMillis = nowMillis
    }

    /// Refills for the time passed since the last update.
    public mutating func refill(rate: Int64, burstSeconds: Int64, at nowMillis: Int64) {
        let elapsed = max(0, nowMillis - updatedMillis)
        let capacity = rate * burstSeconds * 1000
        levelMilli = min(capacity, levelMilli &+ rate * elapsed)
        updatedMillis = max(updatedMillis, nowMillis)
    }

    public var inDebt: Bool { levelMilli <= 0 }

    /// Milliseconds until the bucket is out of debt at `rate`.
    public func wait(rate: Int64) -> Int64 {
        inDebt ? (-levelMilli) / max(rate, 1) + 1 : 0
    }

    public mutating func charge(_ tokens: Int64) { levelMilli -= tokens * 1000 }

    var stored: [Int64] { [levelMilli, updatedMillis] }

    init?(stored numbers: [Int64]) {
        guard numbers.count == 2 else { return nil }
        levelMilli = numbers[0]
        updatedMillis = numbers[1]
    }
}
