#if canImport(Glibc)
import Glibc
#endif

/// Identifiers for usage rows: UUIDv7 (RFC 9562), lowercase.
///
/// Time-ordered on purpose: the ledger keeps a UNIQUE index on `usage_id`, and random (v4) ids
/// scatter every insert across that index, so each group commit rewrites hundreds of index pages
/// into the WAL. v7 ids start with the millisecond timestamp, so new ids land at the right edge
/// of the index like `seq` does. Measured when this was chosen (`./scripts/bench ledger`, its
/// bare-SQLite row, 512 rows per commit, 2 cores): ~31,000 rows/s with v4 ids, ~75,000 with v7.
public enum UsageID {
    public static func generate(at instant: UnixMillis = .now()) -> String {
        format(bytes(at: instant), dashes: true)
    }

    /// The same kind of id without dashes (32 hex digits): request ids (`req_…`) use it.
    public static func compact(at instant: UnixMillis = .now()) -> String {
        format(bytes(at: instant), dashes: false)
    }

    private static func bytes(at instant: UnixMillis) -> (UInt64, UInt64) {
        let millis = UInt64(max(instant.value, 0)) & 0xFFFF_FFFF_FFFF
        let random = randomBits()
        // 48 bits of time, version 7, 12 random bits; then the RFC 9562 variant and 62 random bits.
        let high = millis << 16 | 0x7000 | (random.0 & 0x0FFF)
        let low: UInt64 = 0x8000_0000_0000_0000 | (random.1 & 0x3FFF_FFFF_FFFF_FFFF)
        return (high, low)
    }

    /// 128 random bits from the kernel in one system call: the system generator makes one
    /// getrandom(2) call per 64-bit draw, and two ids are made per request.
    private static func randomBits() -> (UInt64, UInt64) {
        var bits: (UInt64, UInt64) = (0, 0)
        // glibc's arc4random_buf (2.36+) is one getrandom(2) call for the lot.
        withUnsafeMutableBytes(of: &bits) { arc4random_buf($0.baseAddress!, $0.count) }
        return bits
    }

    /// Lowercase hex, straight into the string's storage: this runs twice per request, and
    /// Foundation's `UUID.uuidString` plus lowercasing cost more than the rest of the id.
    private static func format(_ value: (UInt64, UInt64), dashes: Bool) -> String {
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: dashes ? 36 : 32) { buffer in
            var at = 0
            for nibble in 0..<32 {
                if dashes, nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20 {
                    buffer[at] = UInt8(ascii: "-")
                    at += 1
                }
                let word = nibble < 16 ? value.0 : value.1
                buffer[at] = digits.utf8Start[Int((word >> UInt64(60 - 4 * (nibble % 16))) & 0xF)]
                at += 1
            }
            return at
        }
    }
}
