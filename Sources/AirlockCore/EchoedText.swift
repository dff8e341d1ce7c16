import Foundation

/// Text a caller sent, repeated back in an error message or an audit row: bounded, so an error
/// cannot be used as an amplifier (a 64 KiB name is not a 64 KiB error), and, where it lands in
/// a log or a table, without control characters.
extension String {
    /// At most `limit` Unicode scalars, the "…" that marks a cut included — a bound a column
    /// or a test can rely on.
    public func clipped(to limit: Int = 100) -> String {
        guard unicodeScalars.count > limit else { return self }
        var kept = String.UnicodeScalarView()
        kept.append(contentsOf: unicodeScalars.prefix(max(limit - 1, 0)))
        return String(kept) + "…"
    }

    /// Control characters (newlines, escapes, NUL) shown as "?".
    public var controlCharactersReplaced: String {
        String(unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : Character($0) })
    }
}

/// Compares two strings in time that depends only on their lengths, so that a hash or token
/// comparison does not reveal how many leading characters matched.
public func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
    let a = Array(lhs.utf8)
    let b = Array(rhs.utf8)
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}
