extension Collection where Element == UInt8 {
    /// Lowercase hexadecimal, two digits per byte: how hashes are stored and shown. Written into
    /// the string's own storage (no intermediate array): it runs twice per ledger row.
    public var hexString: String {
        String(unsafeUninitializedCapacity: count * 2) { buffer in
            var index = 0
            for byte in self {
                buffer[index] = Self.hexDigit(byte >> 4)
                buffer[index + 1] = Self.hexDigit(byte & 0x0f)
                index += 2
            }
            return index
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x57 + nibble }
}
