/// Money and multipliers as integers: an amount is micro-units of the price table's currency
/// (1 EUR = 1,000,000), a multiplier or discount is parts per million. Operators write decimals
/// ("0.60", "1.1", "15"); they are parsed exactly — never through a `Double` — so a price reads
/// back as it was written and every sum in a report is exact.
public enum Micros {
    /// Parses a non-negative decimal with at most six places into millionths: "0.60" → 600000.
    public static func parse(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.count <= 12, whole.allSatisfy(\.isASCIIDigitCharacter) else {
            return nil
        }
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= 6, fraction.allSatisfy(\.isASCIIDigitCharacter), parts.count == 1 || !fraction.isEmpty else {
            return nil
        }
        fraction += String(repeating: "0", count: 6 - fraction.count)
        guard let integral = Int64(whole), let millionths = Int64(fraction) else { return nil }
        return integral * 1_000_000 + millionths
    }

    /// The shortest decimal that ``parse(_:)`` reads back as `value`: 600000 → "0.6", 2000000 → "2".
    public static func format(_ value: Int64) -> String {
        let sign = value < 0 ? "-" : ""
        let magnitude = value.magnitude
        let whole = magnitude / 1_000_000
        var fraction = String(magnitude % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return sign + String(whole) + (fraction.isEmpty ? "" : "." + fraction)
    }

    /// Milliseconds as hours in millionths (node-hours, capacity-unit hours), for `format`.
    public static func hours(fromMillis millis: Int64) -> Int64 { millis * 10 / 36 }

    /// An amount for people and CSV: always `places` decimals (2 for money), rounded half up.
    public static func format(_ value: Int64, places: Int) -> String {
        precondition((0...6).contains(places))
        var scale: UInt64 = 1
        for _ in 0..<places { scale *= 10 }
        let step = 1_000_000 / scale
        let rounded = (value.magnitude + step / 2) / step  // in units of 10^-places
        let fraction = String(rounded % scale)
        let text = places == 0 ? "\(rounded)" : "\(rounded / scale)." + String(repeating: "0", count: places - fraction.count) + fraction
        return (value < 0 && rounded != 0 ? "-" : "") + text
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { ("0"..."9").contains(self) }
}
