/// Where a row sits in a hash chain (the usage ledger or the audit log).
///
/// `hash` = SHA-256 over the row's canonical encoding: its fields, then `seq`, then `prevHash`
/// (docs/SECURITY.md); the first row's `prevHash` is 64 zeros. Changing, removing or reordering any row breaks every later link.
public struct ChainPosition: Codable, Sendable, Equatable {
    public var seq: Int64
    public var prevHash: String
    public var hash: String

    public init(seq: Int64, prevHash: String, hash: String) {
        self.seq = seq
        self.prevHash = prevHash
        self.hash = hash
    }

    /// The `prevHash` of the first row in a chain.
    public static let genesisHash = String(repeating: "0", count: 64)
}
