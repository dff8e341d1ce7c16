/// One version of the price list (seed 004 § 35, issue H): what a million tokens of each model
/// costs, zone multipliers, per-org discounts and custom prices, the free tier, and the price of
/// reserved capacity. Amounts are integers (``Micros``), so the table stored in SQLite, the cost
/// on each ledger row and every report total are exact.
public struct PriceTable: Codable, Sendable, Equatable {
    /// Input (prompt) and output (completion) price of one million tokens, in micro-units.
    public struct ModelPrice: Codable, Sendable, Equatable {
        public var inputPerMillion: Int64
        public var outputPerMillion: Int64

        enum CodingKeys: String, CodingKey {
            case inputPerMillion = "input_micros_per_million", outputPerMillion = "output_micros_per_million"
        }

        public init(inputPerMillion: Int64, outputPerMillion: Int64) {
            self.inputPerMillion = inputPerMillion
            self.outputPerMillion = outputPerMillion
        }
    }

    /// What one org pays differently: a discount on every price, and/or its own model prices.
    public struct OrgTerms: Codable, Sendable, Equatable {
        /// Parts per million off the price (150000 = 15 %).
        public var discountPPM: Int64
        /// Replaces the table's price of these models for this org (the discount still applies).
        public var models: [String: ModelPrice]

        enum CodingKeys: String, CodingKey { case discountPPM = "discount_ppm", models }

        public init(discountPPM: Int64 = 0, models: [String: ModelPrice] = [:]) {
            self.discountPPM = discountPPM
            self.models = models
        }
    }

    /// ISO 4217 code (`EUR`): every version of an appliance's table uses the same one.
    public var currency: String
    public var models: [String: ModelPrice]
    /// Multiplier per data-centre zone in parts per million (1100000 = ×1.1); 1.0 when unlisted.
    public var zoneMultipliersPPM: [String: Int64]
    /// By org id (names change; ids do not).
    public var orgs: [String: OrgTerms]
    /// Tokens free each calendar month (UTC) for an org without reserved capacity.
    public var freeTokensPerMonth: Int64
    /// Price of one capacity unit (1 guaranteed token/s) held for one hour, in micro-units.
    public var reservedCapacityUnitHour: Int64
    /// FinOps (seed 004 § 43): what running one node for an hour costs the appliance's owner, in
    /// micro-units, by node name, name prefix ending in `*` (`h100-*`: a node type by naming
    /// convention) or `default`. Internal cost, never charged to an org.
    public var nodeHourCosts: [String: Int64]

    enum CodingKeys: String, CodingKey {
        case currency, models, zoneMultipliersPPM = "zone_multipliers_ppm", orgs
        case freeTokensPerMonth = "free_tokens_per_month", reservedCapacityUnitHour = "reserved_cu_hour_micros"
        case nodeHourCosts = "node_hour_cost_micros"
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        currency = try container.decode(String.self, forKey: .currency)
        models = try container.decode([String: ModelPrice].self, forKey: .models)
        zoneMultipliersPPM = try container.decode([String: Int64].self, forKey: .zoneMultipliersPPM)
        orgs = try container.decode([String: OrgTerms].self, forKey: .orgs)
        freeTokensPerMonth = try container.decode(Int64.self, forKey: .freeTokensPerMonth)
        reservedCapacityUnitHour = try container.decode(Int64.self, forKey: .reservedCapacityUnitHour)
        nodeHourCosts = try container.decodeIfPresent([String: Int64].self, forKey: .nodeHourCosts) ?? [:]
    }

    public init(currency: String, models: [String: ModelPrice], zoneMultipliersPPM: [String: Int64] = [:],
                orgs: [String: OrgTerms] = [:], freeTokensPerMonth: Int64 = 0, reservedCapacityUnitHour: Int64 = 0,
                nodeHourCosts: [String: Int64] = [:]) {
        self.currency = currency
        self.models = models
        self.zoneMultipliersPPM = zoneMultipliersPPM
        self.orgs = orgs
        self.freeTokensPerMonth = freeTokensPerMonth
        self.reservedCapacityUnitHour = reservedCapacityUnitHour
        self.nodeHourCosts = nodeHourCosts
    }

    /// Ceilings that keep every cost computation inside 128-bit integers with room to spare and
    /// catch a misplaced decimal point: 1,000,000 currency units per million tokens, ×100.
    public static let maxPricePerMillion: Int64 = 1_000_000 * 1_000_000
    public static let maxMultiplierPPM: Int64 = 100 * 1_000_000

    /// Every rule a table must meet, whoever wrote it; the message names the offending entry.
    public func validate() throws(PriceTableError) {
        guard currency.count == 3, currency.allSatisfy({ ("A"..."Z").contains($0) }) else {
            throw .invalid("currency must be a three-letter ISO 4217 code such as EUR, not '\(currency.clipped(to: 40))'")
        }
        for (model, price) in models { try Self.check(price, "model '\(model.clipped(to: 80))'") }
        for (zone, multiplier) in zoneMultipliersPPM where !(1...Self.maxMultiplierPPM).contains(multiplier) {
            throw .invalid("zone '\(zone.clipped(to: 80))': the multiplier must be above 0 and at most 100")
        }
        for (org, terms) in orgs {
            guard (0...1_000_000).contains(terms.discountPPM) else {
                throw .invalid("org '\(org.clipped(to: 80))': the discount must be between 0 and 100 percent")
            }
            for (model, price) in terms.models { try Self.check(price, "org '\(org.clipped(to: 80))', model '\(model.clipped(to: 80))'") }
        }
        guard (0...1_000_000_000_000).contains(freeTokensPerMonth) else {
            throw .invalid("the free tier must be between 0 and 10^12 tokens a month")
        }
        guard (0...Self.maxPricePerMillion).contains(reservedCapacityUnitHour) else {
            throw .invalid("the reserved capacity price must be between 0 and 1,000,000 per CU-hour")
        }
        for (pattern, cost) in nodeHourCosts {
            let name = pattern.hasSuffix("*") ? String(pattern.dropLast()) : pattern
            guard !name.isEmpty, name.count <= 64, !name.contains("*"),
                  name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }) else {
                throw .invalid("node cost '\(pattern.clipped(to: 80))': a node name, a prefix ending in *, or default")
            }
            guard (0...Self.maxPricePerMillion).contains(cost) else {
                throw .invalid("node cost '\(pattern.clipped(to: 80))' must be between 0 and 1,000,000 an hour")
            }
        }
    }

    private static func check(_ price: ModelPrice, _ what: String) throws(PriceTableError) {
        for value in [price.inputPerMillion, price.outputPerMillion] where !(0...maxPricePerMillion).contains(value) {
            throw .invalid("\(what): a price must be between 0 and 1,000,000 per million tokens, not \(Micros.format(value))")
        }
    }

    /// Every model the table names, in the base prices or an org's own.
    public var modelsNamed: Set<String> {
        Set(models.keys).union(orgs.values.flatMap(\.models.keys))
    }
}

public enum PriceTableError: Error, Equatable, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self { case let .invalid(message): message }
    }
}

extension PriceTable {
    /// What one hour of `node` costs: its own entry, else the longest matching prefix, else
    /// `default`, else nothing.
    public func hourCost(of node: String) -> Int64 {
        if let exact = nodeHourCosts[node] { return exact }
        let prefixes = nodeHourCosts.filter { $0.key.hasSuffix("*") && node.hasPrefix(String($0.key.dropLast())) }
        return prefixes.max { $0.key.count < $1.key.count }?.value ?? nodeHourCosts["default"] ?? 0
    }
}
