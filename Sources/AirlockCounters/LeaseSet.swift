/// Concurrency slots held as leases with an expiry, so that a request whose process crashed or
/// whose settlement was lost gives its slot back when the lease runs out.
public struct LeaseSet: Equatable, Sendable {
    public private(set) var leases: [Lease] = []

    public struct Lease: Equatable, Sendable {
        public var id: Int64
        public var expiresMillis: Int64
    }

    public init() {}

    /// Drops leases that have expired by `nowMillis`.
    public mutating func prune(at nowMillis: Int64) {
        leases.removeAll { $0.expiresMillis <= nowMillis }
    }

    public var count: Int { leases.count }

    public mutating func add(id: Int64, expiresMillis: Int64) {
        leases.append(Lease(id: id, expiresMillis: expiresMillis))
    }

    /// Removes the lease; returns false if it was not held (already expired or released).
    @discardableResult
    public mutating func release(id: Int64) -> Bool {
        guard let index = leases.firstIndex(where: { $0.id == id }) else { return false }
        leases.remove(at: index)
        return true
    }

    /// Milliseconds until the earliest lease expires (how long a refused caller should wait at
    /// most, if nobody releases first).
    public func wait(at nowMillis: Int64) -> Int64 {
        max(0, (leases.map(\.expiresMillis).min() ?? nowMillis) - nowMillis)
    }

    var stored: [Int64] { leases.flatMap { [$0.id, $0.expiresMillis] } }

    init?(stored numbers: [Int64]) {
        guard numbers.count % 2 == 0 else { return nil }
        leases = stride(from: 0, to: numbers.count, by: 2).map { Lease(id: numbers[$0], expiresMillis: numbers[$0 + 1]) }
    }
}
