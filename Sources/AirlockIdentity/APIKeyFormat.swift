import Crypto

/// The shape of an Airlock API key: `alk_` + 32 random base62 characters + a 6-character base62
/// checksum, 42 characters in all, e.g. `alk_4Qb0…x9Zk3fT0a`.
///
/// - The fixed `alk_` prefix and the checksum let secret scanners recognise a leaked key with no
///   false positives, and let Airlock refuse a mistyped key before touching any index.
/// - 32 base62 characters carry ~190 bits from the system CSPRNG.
/// - The first 12 characters (`alk_` + 8) are the *display prefix*: not secret, unique per
///   credential, shown in listings and used to find the credential; the whole string is then
///   checked against its stored HMAC in constant time.
public enum APIKeyFormat {
    public static let prefix = "alk_"
    public static let randomLength = 32
    public static let checksumLength = 6
    public static let length = prefix.count + randomLength + checksumLength
    public static let displayPrefixLength = prefix.count + 8

    static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// A new random key string.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        var body: [UInt8] = Array(prefix.utf8)
        while body.count < prefix.count + randomLength {
            // Rejection sampling: 248 = 4 × 62, so `byte % 62` is uniform below it.
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            if byte < 248 { body.append(alphabet[Int(byte % 62)]) }
        }
        return String(decoding: body + checksum(of: body), as: UTF8.self)
    }

    /// The display prefix of a well-formed key, or nil when `text` is not one (wrong length,
    /// prefix, alphabet or checksum).
    public static func displayPrefix(of text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count == length, bytes.starts(with: prefix.utf8) else { return nil }
        let body = bytes[..<(length - checksumLength)]
        guard body.dropFirst(prefix.count).allSatisfy(isBase62) else { return nil }
        guard checksum(of: body).elementsEqual(bytes[(length - checksumLength)...]) else { return nil }
        return String(decoding: bytes[..<displayPrefixLength], as: UTF8.self)
    }

    /// First 32 bits of SHA-256 over the prefix and random part, as 6 base62 digits.
    static func checksum<C: Collection>(of body: C) -> [UInt8] where C.Element == UInt8 {
        let digest = Array(SHA256.hash(data: Array(body)))
        var value = digest.prefix(4).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        var digits = [UInt8](repeating: alphabet[0], count: checksumLength)
        for index in stride(from: checksumLength - 1, through: 0, by: -1) {
            digits[index] = alphabet[Int(value % 62)]
            value /= 62
        }
        return digits
    }

    static func isBase62(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
    }
}
