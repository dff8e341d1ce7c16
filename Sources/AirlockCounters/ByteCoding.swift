/// Fixed-width little-endian encoding for counter values. Every counter is a flat array of
/// 64-bit integers; a value of the wrong length is treated as damage, not guessed at.
enum ByteCoding {
    static func encode(_ numbers: [Int64]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(numbers.count * 8)
        for number in numbers { withUnsafeBytes(of: number.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> [Int64]? {
        guard bytes.count % 8 == 0 else { return nil }
        return stride(from: 0, to: bytes.count, by: 8).map { offset in
            var value: Int64 = 0
            withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes[offset..<(offset + 8)]) }
            return Int64(littleEndian: value)
        }
    }
}

/// A counter damaged beyond decoding (wrong length or shape).
public struct CounterDamage: Error, CustomStringConvertible {
    public var key: String
    public var description: String { "counter \(key) cannot be decoded" }
}
