import Crypto

/// The byte encoding a chained row is hashed over. It is documented in docs/SECURITY.md so that
/// an auditor can re-derive every hash with any SHA-256 tool, without Airlock's code.
///
/// Layout: a sequence of fields, each a one-byte tag then its value —
/// `0x00` null; `0x01` string: u32 big-endian byte length, UTF-8 bytes; `0x02` integer: i64
/// big-endian two's complement. Booleans are integers 0/1. The first field is the chain's
/// domain string (e.g. `airlock.usage_ledger.v1`), the last is `prev_hash` (hex string).
/// Length prefixes make the encoding injective: no two rows share bytes.
struct CanonicalEncoding {
    private(set) var bytes: [UInt8] = []

    init(domain: String) {
        bytes.reserveCapacity(384)
        append(domain)
    }

    mutating func append(_ text: String?) {
        guard let text else { bytes.append(0x00); return }
        let utf8 = Array(text.utf8)
        bytes.append(0x01)
        appendBigEndian(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func append(_ number: Int64) {
        bytes.append(0x02)
        appendBigEndian(UInt64(bitPattern: number))
    }

    mutating func append(_ flag: Bool) { append(flag ? Int64(1) : 0) }

    private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Lowercase hex SHA-256 of the encoded bytes.
    var sha256Hex: String {
        SHA256.hash(data: bytes).hexString
    }
}
