import Crypto

/// The byte encoding a chained row is hashed over. It is documented in docs/SECURITY.md so that
/// an auditor can re-derive every hash with any SHA-256 tool, without Airlock's code.
///
/// Layout: a sequence of fields, each a one-byte tag then its value —
/// `0x00` null; `0x01` string: u32 big-endian byte length, UTF-8 bytes; `0x02` integer: i64
/// big-endian two's complement. Booleans are integers 0/1. The first field is the chain's
/// domain string (e.g. `airlock.usage_ledger.v1`), then the row's own fields, then `seq`, and
/// last `prev_hash` (hex string). Length prefixes make the encoding injective: no two rows
/// share bytes. The chain position comes last so that everything before it can be hashed by
/// the caller, in parallel, before the row reaches the single writer (see ``RowDigest``).
struct CanonicalEncoding {
    private(set) var bytes: [UInt8] = []

    init(domain: String) {
        bytes.reserveCapacity(384)
        append(domain)
    }

    /// An encoding that continues another one (no domain string of its own).
    init(fieldsOnly: Void) {
        bytes.reserveCapacity(96)
    }

    mutating func append(_ text: String?) {
        guard let text else { bytes.append(0x00); return }
        bytes.append(0x01)
        appendBigEndian(UInt32(text.utf8.count))
        bytes.append(contentsOf: text.utf8)
    }

    mutating func append(_ number: Int64) {
        bytes.append(0x02)
        appendBigEndian(UInt64(bitPattern: number))
    }

    mutating func append(_ flag: Bool) { append(flag ? Int64(1) : 0) }

    private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// The SHA-256 state after absorbing these bytes.
    var digest: RowDigest {
        var hasher = SHA256()
        hasher.update(data: bytes)
        return RowDigest(hasher: hasher)
    }
}

/// A row's hash, all but finished: SHA-256 state over the domain and the row's fields. Linking
/// it into the chain only adds `seq` and `prev_hash` — about 90 bytes — which is all the work
/// left for the serialised writer.
struct RowDigest: @unchecked Sendable {
    // SHA256 is a plain value (its state is a fixed-size buffer), so copies are independent.
    var hasher: SHA256

    /// The row's hash at position `seq` after a row whose hash is `prevHash`.
    func linked(seq: Int64, prevHash: String) -> String {
        var tail = CanonicalEncoding(fieldsOnly: ())
        tail.append(seq)
        tail.append(prevHash)
        var finished = hasher
        finished.update(data: tail.bytes)
        return finished.finalize().withUnsafeBytes { $0.hexString }
    }
}
