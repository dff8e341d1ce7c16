/// A counter damaged beyond decoding (wrong length or shape).
public struct CounterDamage: Error, CustomStringConvertible {
    public var key: String
    public var description: String { "counter \(key) cannot be decoded" }
}
