import Foundation

/// One line of Prometheus text: `name{labels} value`.
public struct PrometheusSample: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var value: Double
}

/// A cumulative histogram bucket: observations ≤ `upperBound`.
public struct HistogramBucket: Sendable, Equatable {
    public var upperBound: Double
    public var count: Double
}

/// Prometheus' text exposition format (0.0.4), read without trusting the sender: whatever listens
/// on the engine's port may answer, so input past `maxBytes` or `maxLines` is not read, and a line
/// that cannot be read is skipped and counted — one bad series must not cost the others.
public struct PrometheusText: Sendable {
    public static let maxBytes = 4 << 20
    public static let maxLines = 100_000
    static let maxLabels = 64
    static let maxNumberLength = 64

    public private(set) var samples: [PrometheusSample] = []
    public private(set) var malformedLines = 0
    /// Whether the input was longer than the limits and its tail went unread.
    public private(set) var truncated = false

    public init(_ text: String, maxBytes: Int = maxBytes, maxLines: Int = maxLines, keeping keep: (String) -> Bool = { _ in true }) {
        self.init(bytes: Array(text.utf8.prefix(min(maxBytes, .max - 1) + 1)), maxBytes: maxBytes, maxLines: maxLines, keeping: keep)
    }

    /// `keep` picks the samples worth storing by name; every line is still checked.
    public init(bytes: [UInt8], maxBytes: Int = maxBytes, maxLines: Int = maxLines, keeping keep: (String) -> Bool = { _ in true }) {
        var end = bytes.count
        if end > maxBytes {
            truncated = true
            // The line the limit cuts could read as another figure ("1234" as "12"): drop it.
            end = bytes[..<max(0, maxBytes)].lastIndex(of: UInt8(ascii: "\n")) ?? 0
        }
        var start = 0, lines = 0
        while start < end {
            guard lines < maxLines else { truncated = true; break }
            lines += 1
            let stop = bytes[start..<end].firstIndex(of: UInt8(ascii: "\n")) ?? end
            read(bytes[start..<stop], keep)
            start = stop + 1
        }
    }

    private mutating func read(_ line: ArraySlice<UInt8>, _ keep: (String) -> Bool) {
        var scanner = Scanner(line.last == UInt8(ascii: "\r") ? line.dropLast() : line)
        _ = scanner.blanks()
        // `# HELP` and `# TYPE` too: the names say what a series is, and HELP text may hold anything.
        if scanner.atEnd || scanner.take("#") { return }
        guard let sample = scanner.sample() else { malformedLines += 1; return }
        if keep(sample.name) { samples.append(sample) }
    }

    /// The sum over every series of `name` — vLLM, for one, writes one per model — or nil when no
    /// series has a number (NaN is how the format says "no figure").
    public func sum(_ name: String) -> Double? {
        var total: Double?
        for sample in samples where sample.name == name && !sample.value.isNaN { total = (total ?? 0) + sample.value }
        return total
    }

    /// The `<name>_bucket` series summed per `le` across their other labels, in ascending order.
    public func histogram(_ name: String) -> [HistogramBucket]? {
        var counts: [Double: Double] = [:]
        let bucketName = name + "_bucket"
        for sample in samples where sample.name == bucketName && !sample.value.isNaN {
            guard let le = sample.labels["le"].flatMap({ Scanner.number(Array($0.utf8)[...]) }), !le.isNaN else { continue }
            counts[le, default: 0] += sample.value
        }
        if counts.isEmpty { return nil }
        return counts.map { HistogramBucket(upperBound: $0.key, count: $0.value) }.sorted { $0.upperBound < $1.upperBound }
    }
}

/// One line, read byte by byte: names and numbers are ASCII, label values any UTF-8.
private struct Scanner {
    let bytes: ArraySlice<UInt8>
    var index: Int

    init(_ bytes: ArraySlice<UInt8>) { (self.bytes, index) = (bytes, bytes.startIndex) }

    var atEnd: Bool { index >= bytes.endIndex }
    var peek: UInt8? { atEnd ? nil : bytes[index] }

    mutating func take(_ character: Unicode.Scalar) -> Bool {
        guard peek == UInt8(ascii: character) else { return false }
        index += 1
        return true
    }

    /// Skips spaces and tabs; says whether there were any.
    mutating func blanks() -> Bool {
        let start = index
        while let byte = peek, byte == 0x20 || byte == 0x09 { index += 1 }
        return index > start
    }

    mutating func word() -> ArraySlice<UInt8> {
        let start = index
        while let byte = peek, byte != 0x20, byte != 0x09 { index += 1 }
        return bytes[start..<index]
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names; label names have no colons.
    mutating func name(colons: Bool) -> String? {
        let start = index
        while let byte = peek {
            let letter = (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
            let digit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            guard letter || byte == UInt8(ascii: "_") || (colons && byte == UInt8(ascii: ":")) || (digit && index > start) else { break }
            index += 1
        }
        return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
    }

    mutating func sample() -> PrometheusSample? {
        guard let name = name(colons: true) else { return nil }
        let spaced = blanks()
        var labels: [String: String] = [:]
        if take("{") {
            guard let read = labelSet() else { return nil }
            labels = read
            _ = blanks()
        } else if !spaced {
            return nil
        }
        guard let value = Self.number(word()) else { return nil }
        // An optional timestamp, which the agent has no use for: engines stamp nothing, and the
        // agent's own clock times its rates.
        if blanks(), !atEnd, Self.number(word()) == nil { return nil }
        _ = blanks()
        return atEnd ? PrometheusSample(name: name, labels: labels, value: value) : nil
    }

    /// After `{`: `name="value"` pairs up to `}`; a trailing comma is allowed, as in the format.
    mutating func labelSet() -> [String: String]? {
        var labels: [String: String] = [:]
        while true {
            _ = blanks()
            if take("}") { return labels }
            guard let key = name(colons: false) else { return nil }
            _ = blanks()
            guard take("=") else { return nil }
            _ = blanks()
            guard take("\""), let value = quoted(), labels.count < PrometheusText.maxLabels,
                  labels.updateValue(value, forKey: key) == nil else { return nil }
            _ = blanks()
            if !take(",") { return take("}") ? labels : nil }
        }
    }

    /// After `"`: the value up to the closing quote, with `\\`, `\"` and `\n` unescaped.
    mutating func quoted() -> String? {
        var value: [UInt8] = []
        while let byte = peek {
            index += 1
            switch byte {
            case UInt8(ascii: "\""): return String(decoding: value, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = peek else { return nil }
                index += 1
                switch escaped {
                case UInt8(ascii: "n"): value.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): value.append(escaped)
                default: value += [byte, escaped]
                }
            default: value.append(byte)
            }
        }
        return nil
    }

    /// Go's float syntax as Prometheus writes it: decimals, exponents, `NaN`, `±Inf`. Hex floats
    /// and over-long tokens are refused, as no exporter writes them.
    static func number(_ token: ArraySlice<UInt8>) -> Double? {
        guard !token.isEmpty, token.count <= PrometheusText.maxNumberLength else { return nil }
        let text = String(decoding: token, as: UTF8.self)
        let signed = token.first == UInt8(ascii: "+") || token.first == UInt8(ascii: "-")
        switch text.dropFirst(signed ? 1 : 0).lowercased() {
        case "nan": return .nan
        case "inf", "infinity": return token.first == UInt8(ascii: "-") ? -.infinity : .infinity
        default:
            let allowed = token.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2B || $0 == 0x2D || $0 | 0x20 == 0x65 }
            return allowed ? Double(text) : nil
        }
    }
}
