import Foundation

/// Strict reads of values from `JSONSerialization`, which hands back `NSNumber` for numbers and
/// booleans alike: `"stream": 1` must not pass for `true`, nor `"max_tokens": true` for 1.
enum JSONValues {
    private static func kind(_ value: Any) -> UInt8? {
        guard let number = value as? NSNumber else { return nil }
        return UInt8(bitPattern: number.objCType.pointee)
    }

    static func bool(_ value: Any) -> Bool? {
        kind(value) == UInt8(ascii: "c") ? (value as? NSNumber)?.boolValue : nil
    }

    /// Whole numbers Airlock reads, from requests and engine replies alike, are below this in
    /// magnitude: under 2^53 every whole number is exact as a `Double`, so `16` and `16.0` are the
    /// same number, and no sum of a few of them overflows an `Int64`.
    static let wholeNumberLimit = 9e15

    /// A whole number (`16` or `16.0`), not a boolean.
    static func integer(_ value: Any) -> Int64? {
        guard let code = kind(value), code != UInt8(ascii: "c"), let number = value as? NSNumber else { return nil }
        let double = number.doubleValue
        guard double.rounded() == double, abs(double) < wholeNumberLimit else { return nil }
        return number.int64Value
    }

    /// Any finite number, not a boolean.
    static func number(_ value: Any) -> Double? {
        guard let code = kind(value), code != UInt8(ascii: "c"), let number = value as? NSNumber else { return nil }
        return number.doubleValue.isFinite ? number.doubleValue : nil
    }

    static func isNull(_ value: Any?) -> Bool { value == nil || value is NSNull }
}
