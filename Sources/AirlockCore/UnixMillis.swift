import Foundation

/// A wall-clock instant as whole milliseconds since the Unix epoch.
///
/// Every timestamp Airlock stores is one of these, never a `Date`: an integer has exactly one
/// encoding, which the hash chains of the ledger and audit log depend on.
public struct UnixMillis: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var value: Int64

    public init(_ value: Int64) { self.value = value }

    /// Rounded to the nearest millisecond: a parsed `…00.002Z` is 1.9998… ms in floating point,
    /// and rounding down would store a time the operator did not write.
    public init(_ date: Date) {
        self.value = Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    public static func now() -> UnixMillis { UnixMillis(Date()) }

    public var date: Date { Date(timeIntervalSince1970: TimeInterval(value) / 1000) }

    public func adding(seconds: Int64) -> UnixMillis { UnixMillis(value + seconds * 1000) }

    public static func < (lhs: UnixMillis, rhs: UnixMillis) -> Bool { lhs.value < rhs.value }

    /// ISO 8601 in UTC with milliseconds, for people (JSON carries the integer). Built from the
    /// integer so that no floating-point rounding can move it by a millisecond.
    public var description: String {
        let seconds = value.floorDiv(1000)
        let millis = value - seconds * 1000
        let whole = Date(timeIntervalSince1970: TimeInterval(seconds))
            .formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted))
        let digits = String(millis)
        return whole.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    public init(from decoder: Decoder) throws {
        value = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// Where "now" comes from. Production uses the system clock; tests move time by hand to cross
/// grace windows and expiry dates without sleeping.
extension UnixMillis {
    /// `2027-01-31` (midnight UTC) or an ISO 8601 date-time with its zone (`2027-01-31T12:00:00Z`):
    /// how operators and the vendor write dates.
    public static func parseISODate(_ text: String) -> UnixMillis? {
        if let date = try? Date(text, strategy: .iso8601) { return UnixMillis(date) }
        let dateOnly = Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!).year().month().day()
        if let date = try? Date(text, strategy: dateOnly) { return UnixMillis(date) }
        return nil
    }
}

public struct WallClock: Sendable {
    public let now: @Sendable () -> UnixMillis

    public init(now: @escaping @Sendable () -> UnixMillis) { self.now = now }

    public static let system = WallClock { UnixMillis.now() }
}

extension Int64 {
    /// Division rounding toward negative infinity, so instants before 1970 format correctly.
    public func floorDiv(_ divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
