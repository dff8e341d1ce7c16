/// One admitted request's hold on a concurrency slot in each of its scopes.
///
/// Stored as its own record, keyed `l|` + expiry (8 bytes, big-endian) + id (8 bytes,
/// big-endian), so the leases that have expired are exactly the first keys under `l|`, and a
/// sweep finds them with one cursor seek. The value lists the scopes it holds, NUL-separated,
/// so the sweep knows whose counts to give back. A request whose process crashed, or whose
/// settlement was lost, gives its slots back when its lease runs out.
public struct Lease: Sendable, Equatable {
    public var id: Int64
    public var expiresMillis: Int64

    public init(id: Int64, expiresMillis: Int64) {
        self.id = id
        self.expiresMillis = expiresMillis
    }

    static let prefix: [UInt8] = Array("l|".utf8)

    var key: [UInt8] {
        var bytes = Self.prefix
        bytes.reserveCapacity(18)
        withUnsafeBytes(of: UInt64(bitPattern: expiresMillis).bigEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(bitPattern: id).bigEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Reads a lease key; nil if it is not one.
    init?(key: UnsafeRawBufferPointer) {
        guard key.count == 18, key.starts(with: Self.prefix) else { return nil }
        func number(at offset: Int) -> Int64 {
            key[offset ..< offset + 8].reduce(Int64(0)) { ($0 << 8) | Int64($1) }
        }
        expiresMillis = number(at: 2)
        id = number(at: 10)
    }

    public static func encode(scopes: [String]) -> [UInt8] { Array(scopes.joined(separator: "\u{0}").utf8) }

    static func decode(scopes value: UnsafeRawBufferPointer) -> [String] {
        value.split(separator: 0, omittingEmptySubsequences: true).map { String(decoding: $0, as: UTF8.self) }
    }
}
