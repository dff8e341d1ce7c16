/// A price table and the instant from which it prices ledger rows. Versions are append-only and
/// each starts after the previous one and after every row already in the ledger, so a row is
/// always priced by the version in force at its `ts` — the same answer whenever it is asked.
public struct PriceVersion: Codable, Sendable, Equatable {
    public var version: Int64
    public var effectiveFrom: UnixMillis
    public var createdAt: UnixMillis
    public var table: PriceTable

    enum CodingKeys: String, CodingKey { case version, effectiveFrom = "effective_from", createdAt = "created_at", table }

    public init(version: Int64, effectiveFrom: UnixMillis, createdAt: UnixMillis, table: PriceTable) {
        self.version = version
        self.effectiveFrom = effectiveFrom
        self.createdAt = createdAt
        self.table = table
    }
}

/// Every price version, oldest first: which one prices a row at a given instant.
public struct PriceBook: Sendable, Equatable {
    public let versions: [PriceVersion]

    public init(_ versions: [PriceVersion]) {
        self.versions = versions.sorted { $0.effectiveFrom < $1.effectiveFrom }
    }

    public static let empty = PriceBook([])

    /// The version in force at `instant`; nil before the first (such rows cost nothing).
    public func version(at instant: UnixMillis) -> PriceVersion? {
        versions.last { $0.effectiveFrom <= instant }
    }
}

extension PriceTable {
    /// The price of a million tokens of `model` for `org`: the org's own price if it has one,
    /// else the table's; nil when the model is not priced (its rows cost nothing).
    public func price(of model: String, for org: String) -> ModelPrice? {
        orgs[org]?.models[model] ?? models[model]
    }

    /// Cost of one request in micro-units, rounded half up: (prompt × input + completion ×
    /// output) ÷ 10⁶ × zone multiplier × (1 − discount). `freeTokens` of the request are not
    /// charged, prompt tokens first. 128-bit arithmetic: the table's ceilings keep it exact.
    public func cost(model: String, zone: String, org: String, promptTokens: Int64, completionTokens: Int64,
                     freeTokens: Int64 = 0) -> Int64 {
        guard let price = price(of: model, for: org) else { return 0 }
        let freePrompt = min(max(freeTokens, 0), promptTokens)
        let freeCompletion = min(max(freeTokens - freePrompt, 0), completionTokens)
        let tokenMicros = Int128(promptTokens - freePrompt) * Int128(price.inputPerMillion)
            + Int128(completionTokens - freeCompletion) * Int128(price.outputPerMillion)
        let zoneFactor = Int128(zoneMultipliersPPM[zone] ?? 1_000_000)
        let keptFactor = Int128(1_000_000 - (orgs[org]?.discountPPM ?? 0))
        let divisor: Int128 = 1_000_000 * 1_000_000 * 1_000_000
        let cost = (tokenMicros * zoneFactor * keptFactor + divisor / 2) / divisor
        return cost > Int128(Int64.max) ? Int64.max : Int64(cost)
    }
}
