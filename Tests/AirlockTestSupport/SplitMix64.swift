/// A deterministic generator, so that a failing round of a randomised test can be replayed.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SplitMix64 {
    /// `bytes` with 1…`edits` random edits — a byte replaced or inserted from `alphabet`, a byte
    /// removed, or the rest cut off — for tests that feed hostile input to a parser.
    public mutating func mangle(_ bytes: [UInt8], alphabet: [UInt8], edits: Int = 3) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...edits, using: &self) where !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &self)
            switch Int.random(in: 0..<4, using: &self) {
            case 0: bytes[at] = alphabet.randomElement(using: &self)!
            case 1: bytes.insert(alphabet.randomElement(using: &self)!, at: at)
            case 2: bytes.remove(at: at)
            default: bytes.removeSubrange(at...)
            }
        }
        return bytes
    }
}
