import Foundation

/// One CSV cell: quoted when needed, and never starting with a formula character, so a name such
/// as `=HYPERLINK(…)` cannot run in the spreadsheet that opens the file (usage exports and
/// chargeback reports alike).
public enum CSVField {
    public static func safe(_ text: String) -> String {
        var value = text
        if let first = value.first, "=+-@\t\r".contains(first) { value = "'" + value }
        guard value.contains(where: { ",\"\r\n".contains($0) }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
