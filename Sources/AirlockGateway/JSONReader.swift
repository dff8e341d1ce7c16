/// A forward-only reader of JSON text (RFC 8259) that builds only what it is asked for: a value
/// it is told to skip is checked for syntax but never materialised. It exists for the engine's
/// replies and stream chunks, read once per request and once per streamed token, where
/// Foundation's `JSONDecoder` (a whole-document map, then `Decodable` with coding paths and
/// dynamic casts) was a sixth of airlockd's CPU on a stream (docs/BENCHMARKS.md § gateway).
///
/// It reads borrowed bytes and must not outlive the closure that lent them. Strings that are
/// skipped are checked for escapes and control characters, not for valid UTF-8; a string that is
/// read and is not valid UTF-8 (or holds a lone surrogate) reads as nil, like any value of an
/// unexpected shape. Nesting deeper than `maxDepth` is malformed, so hostile input cannot
/// exhaust the stack.
struct JSONReader {
    struct Malformed: Error {}

    enum Kind { case object, array, string, number, literal }

    static let maxDepth = 512

    private let bytes: UnsafeRawBufferPointer
    private var index = 0
    private var depth = 0

    private init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Reads the document in `bytes` with `body`, which must read or skip exactly one value;
    /// anything but whitespace after it is malformed.
    static func read<T>(_ bytes: UnsafeRawBufferPointer, _ body: (inout JSONReader) throws -> T) throws -> T {
        var reader = JSONReader(bytes)
        let value = try body(&reader)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw Malformed() }
        return value
    }

    /// What the next value is, from its first byte (whitespace skipped).
    mutating func kind() throws -> Kind {
        skipWhitespace()
        guard index < bytes.count else { throw Malformed() }
        switch bytes[index] {
        case .openBrace: return .object
        case .openBracket: return .array
        case .quote: return .string
        case .minus, UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"): return .literal
        default: throw Malformed()
        }
    }

    /// Calls `member` with each key of the object that comes next, in order; `member` must read
    /// or skip the key's value.
    mutating func readObject(_ member: (inout JSONReader, Key) throws -> Void) throws {
        try enter(.openBrace)
        defer { depth -= 1 }
        skipWhitespace()
        if try consume(.closeBrace) { return }
        repeat {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == .quote else { throw Malformed() }
            let key = Key(try scanString())
            skipWhitespace()
            guard try consume(.colon) else { throw Malformed() }
            try member(&self, key)
            skipWhitespace()
        } while try consume(.comma)
        guard try consume(.closeBrace) else { throw Malformed() }
    }

    /// `readObject` if an object comes next; any other value is skipped. Says which it was.
    mutating func readObjectOrSkip(_ member: (inout JSONReader, Key) throws -> Void) throws -> Bool {
        guard try kind() == .object else {
            try skipValue()
            return false
        }
        try readObject(member)
        return true
    }

    /// Calls `element` for each element of the array that comes next; `element` must read or
    /// skip it.
    mutating func readArray(_ element: (inout JSONReader) throws -> Void) throws {
        try enter(.openBracket)
        defer { depth -= 1 }
        skipWhitespace()
        if try consume(.closeBracket) { return }
        repeat {
            try element(&self)
            skipWhitespace()
        } while try consume(.comma)
        guard try consume(.closeBracket) else { throw Malformed() }
    }

    /// The string that comes next, or nil (having skipped the value) if it is another kind of
    /// value or not valid Unicode.
    mutating func readString() throws -> String? {
        guard try kind() == .string else {
            try skipValue()
            return nil
        }
        return Self.decode(try scanString())
    }

    /// The whole number that comes next (`16`, `16.0`, `1.6e1`), or nil (having skipped the
    /// value) if it is anything else — a fraction, a string, a boolean — or not below
    /// `JSONValues.wholeNumberLimit` in magnitude (so sums of token counts cannot overflow).
    mutating func readWholeNumber() throws -> Int64? {
        guard try kind() == .number else {
            try skipValue()
            return nil
        }
        let (text, integral) = try scanNumber()
        if integral, text.count <= 17 {
            var value: Int64 = 0
            for digit in text where digit != .minus { value = value * 10 + Int64(digit &- UInt8(ascii: "0")) }
            guard Double(value) < JSONValues.wholeNumberLimit else { return nil }
            return text.first == .minus ? -value : value
        }
        guard let double = Double(String(decoding: text, as: UTF8.self)), double.rounded() == double,
              abs(double) < JSONValues.wholeNumberLimit
        else {
            return nil
        }
        return Int64(double)
    }

    /// Whether the next value is `null`, and if so steps over it.
    mutating func skipNull() throws -> Bool {
        guard try kind() == .literal, bytes[index] == UInt8(ascii: "n") else { return false }
        try skipValue()
        return true
    }

    /// Steps over the next value, checking its syntax.
    mutating func skipValue() throws {
        switch try kind() {
        case .object: try readObject { reader, _ in try reader.skipValue() }
        case .array: try readArray { reader in try reader.skipValue() }
        case .string: _ = try scanString()
        case .number: _ = try scanNumber()
        case .literal:
            for word: StaticString in ["true", "false", "null"] where matches(word) {
                index += word.utf8CodeUnitCount
                return
            }
            throw Malformed()
        }
    }

    /// An object key: its raw bytes between the quotes, compared without building a string
    /// unless it holds escapes.
    struct Key {
        fileprivate let scanned: ScannedString

        fileprivate init(_ scanned: ScannedString) {
            self.scanned = scanned
        }

        static func == (key: Key, name: StaticString) -> Bool {
            guard key.scanned.escaped else {
                return key.scanned.raw.elementsEqual(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            }
            return JSONReader.decode(key.scanned) == name.description
        }
    }

    fileprivate struct ScannedString {
        let raw: UnsafeRawBufferPointer.SubSequence
        let escaped: Bool
    }

    // MARK: - Scanning

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case .space, .tab, .newline, .carriageReturn: index += 1
            default: return
            }
        }
    }

    private mutating func consume(_ byte: UInt8) throws -> Bool {
        guard index < bytes.count else { throw Malformed() }
        guard bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func enter(_ opener: UInt8) throws {
        skipWhitespace()
        guard try consume(opener) else { throw Malformed() }
        depth += 1
        guard depth <= Self.maxDepth else { throw Malformed() }
    }

    private func matches(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        return bytes[index..<(index + count)].elementsEqual(UnsafeRawBufferPointer(start: word.utf8Start, count: count))
    }

    /// Steps over a string (the opening quote is next), checking its escapes.
    private mutating func scanString() throws -> ScannedString {
        index += 1
        let start = index
        var escaped = false
        while true {
            guard index < bytes.count else { throw Malformed() }
            let byte = bytes[index]
            if byte == .quote { break }
            if byte < 0x20 { throw Malformed() }
            index += 1
            guard byte == .backslash else { continue }
            escaped = true
            guard index < bytes.count else { throw Malformed() }
            let escape = bytes[index]
            index += 1
            switch escape {
            case .quote, .backslash, UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"),
                 UInt8(ascii: "t"):
                continue
            case UInt8(ascii: "u"):
                guard bytes.count - index >= 4, bytes[index..<(index + 4)].allSatisfy({ Self.hexValue($0) != nil }) else {
                    throw Malformed()
                }
                index += 4
            default:
                throw Malformed()
            }
        }
        defer { index += 1 }
        return ScannedString(raw: bytes[start..<index], escaped: escaped)
    }

    /// Steps over a number, checking its grammar; says whether it has no fraction or exponent.
    private mutating func scanNumber() throws -> (text: UnsafeRawBufferPointer.SubSequence, integral: Bool) {
        let start = index
        if bytes[index] == .minus { index += 1 }
        guard index < bytes.count, Self.isDigit(bytes[index]) else { throw Malformed() }
        if bytes[index] == UInt8(ascii: "0") { index += 1 } else { skipDigits() }
        var integral = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw Malformed() }
            skipDigits()
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            integral = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == .minus { index += 1 }
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw Malformed() }
            skipDigits()
        }
        return (bytes[start..<index], integral)
    }

    private mutating func skipDigits() {
        while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// The text of a scanned string, escapes resolved; nil if it is not valid Unicode.
    private static func decode(_ string: ScannedString) -> String? {
        guard string.escaped else { return String(validating: string.raw, as: UTF8.self) }
        var utf8: [UInt8] = []
        utf8.reserveCapacity(string.raw.count)
        var index = string.raw.startIndex
        func hex4(at position: Int) -> UInt32 {
            string.raw[position..<(position + 4)].reduce(0) { $0 << 4 | hexValue($1)! }
        }
        while index < string.raw.endIndex {
            let byte = string.raw[index]
            index += 1
            guard byte == .backslash else {
                utf8.append(byte)
                continue
            }
            let escape = string.raw[index]
            index += 1
            switch escape {
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(.newline)
            case UInt8(ascii: "r"): utf8.append(.carriageReturn)
            case UInt8(ascii: "t"): utf8.append(.tab)
            case UInt8(ascii: "u"):
                var scalar = hex4(at: index)
                index += 4
                if (0xD800..<0xDC00).contains(scalar) {
                    // A high surrogate must be followed by an escaped low one.
                    guard string.raw.endIndex - index >= 6, string.raw[index] == .backslash, string.raw[index + 1] == UInt8(ascii: "u")
                    else { return nil }
                    let low = hex4(at: index + 2)
                    guard (0xDC00..<0xE000).contains(low) else { return nil }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                guard let unicode = Unicode.Scalar(scalar) else { return nil }
                utf8.append(contentsOf: UTF8.encode(unicode)!)
            default: utf8.append(escape)  // `"`, `\` and `/` stand for themselves
            }
        }
        return String(validating: utf8, as: UTF8.self)
    }
}

/// The bytes the gateway's readers of JSON and server-sent events look for.
extension UInt8 {
    static let openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "["), closeBracket = UInt8(ascii: "]")
    static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
    static let colon = UInt8(ascii: ":"), comma = UInt8(ascii: ","), minus = UInt8(ascii: "-")
    static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
}
