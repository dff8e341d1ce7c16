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
        // Two 64-bit draws: the system generator makes one getrandom(2) call per draw, so asking
        // byte by byte would cost 16 system calls per ledger row.
        var generator = SystemRandomNumberGenerator()
        let millis = UInt64(max(instant.value, 0)) & 0xFFFF_FFFF_FFFF
        let random = generator.next() as UInt64
        // 48 bits of time, version 7, 12 random bits; then the RFC 9562 variant and 62 random bits.
        let high = millis << 16 | 0x7000 | (random & 0x0FFF)
        let low: UInt64 = 0x8000_0000_0000_0000 | (generator.next() & 0x3FFF_FFFF_FFFF_FFFF)
        return (high, low)
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
