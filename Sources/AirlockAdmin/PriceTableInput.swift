import AirlockCore
import Foundation

/// A price table as operators write it — a JSON body, or a TOML / JSON file for the CLI: decimal
/// prices per million tokens, multipliers, a discount in percent, orgs by name or id. Turned
/// into the stored integer ``PriceTable`` by `AdminActions.addPriceVersion`, which resolves the
/// orgs and checks the models against the catalog.
public struct PriceTableInput: Codable, Sendable, Equatable {
    public struct ModelPrice: Codable, Sendable, Equatable {
        public var input: Decimal6
        public var output: Decimal6

        enum CodingKeys: String, CodingKey, CaseIterable { case input, output }
    }

    public struct OrgTerms: Codable, Sendable, Equatable {
        public var discountPercent: Decimal6?
        public var models: [String: ModelPrice]?

        enum CodingKeys: String, CodingKey, CaseIterable { case discountPercent = "discount_percent", models }
    }

    public var currency: String
    public var models: [String: ModelPrice]
    public var zones: [String: Decimal6]?
    public var orgs: [String: OrgTerms]?
    public var freeTokensPerMonth: Int64?
    public var reservedCapacityUnitHour: Decimal6?
    /// FinOps: a node's running cost an hour, by name, `prefix*` or `default`.
    public var nodeHourCosts: [String: Decimal6]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case currency, models, zones, orgs, freeTokensPerMonth = "free_tokens_per_month", reservedCapacityUnitHour = "reserved_cu_hour"
        case nodeHourCosts = "node_hour_cost"
    }

    /// What a stored table reads as, for `airlock price show` and the API.
    public init(_ table: PriceTable, orgNames: [String: String] = [:]) {
        func input(_ price: PriceTable.ModelPrice) -> ModelPrice {
            ModelPrice(input: Decimal6(micros: price.inputPerMillion), output: Decimal6(micros: price.outputPerMillion))
        }
        currency = table.currency
        models = table.models.mapValues(input)
        zones = table.zoneMultipliersPPM.isEmpty ? nil : table.zoneMultipliersPPM.mapValues(Decimal6.init(micros:))
        orgs = table.orgs.isEmpty ? nil : Dictionary(uniqueKeysWithValues: table.orgs.map { id, terms in
            (orgNames[id] ?? id, OrgTerms(discountPercent: Decimal6(micros: terms.discountPPM * 100),
                                          models: terms.models.isEmpty ? nil : terms.models.mapValues(input)))
        })
        freeTokensPerMonth = table.freeTokensPerMonth
        reservedCapacityUnitHour = Decimal6(micros: table.reservedCapacityUnitHour)
        nodeHourCosts = table.nodeHourCosts.isEmpty ? nil : table.nodeHourCosts.mapValues(Decimal6.init(micros:))
    }
}

/// A non-negative decimal with at most six places, kept as millionths. Read from a string
/// (`"0.60"`, exact) or a number; a number with more than six places is refused rather than
/// silently rounded, and a negative one is refused with the value named.
public struct Decimal6: Codable, Sendable, Equatable, CustomStringConvertible {
    public var micros: Int64

    public init(micros: Int64) { self.micros = micros }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text: String
        if let string = try? container.decode(String.self) {
            text = string.trimmingCharacters(in: .whitespaces)
        } else if let integer = try? container.decode(Int64.self) {
            text = String(integer)
        } else {
            let number = try container.decode(Double.self)
            let scaled = (number * 1_000_000).rounded()
            guard abs(number * 1_000_000 - scaled) < 1e-3, abs(scaled) < 9e18 else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(number) has more than six decimal places")
            }
            text = Micros.format(Int64(scaled))
        }
        if text.hasPrefix("-") {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text.clipped(to: 40))' is negative; prices, multipliers and discounts cannot be")
        }
        guard let micros = Micros.parse(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text.clipped(to: 40))' is not a decimal such as 0.60 (at most six places)")
        }
        self.micros = micros
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public var description: String { Micros.format(micros) }
}

extension PriceTableInput {
    /// Reads a table from JSON, refusing unknown fields at every level (a misspelt `discount_percnt`
    /// must not silently charge full price) and naming the path of whatever is wrong.
    public static func decode(json data: Data) throws -> PriceTableInput { try StrictKeys.decode(data, what: "price table") }


    public init(from decoder: Decoder) throws {
        try StrictKeys.check(decoder, CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        currency = try container.decode(String.self, forKey: .currency)
        models = try container.decode([String: ModelPrice].self, forKey: .models)
        zones = try container.decodeIfPresent([String: Decimal6].self, forKey: .zones)
        orgs = try container.decodeIfPresent([String: OrgTerms].self, forKey: .orgs)
        freeTokensPerMonth = try container.decodeIfPresent(Int64.self, forKey: .freeTokensPerMonth)
        reservedCapacityUnitHour = try container.decodeIfPresent(Decimal6.self, forKey: .reservedCapacityUnitHour)
        nodeHourCosts = try container.decodeIfPresent([String: Decimal6].self, forKey: .nodeHourCosts)
    }
}

extension PriceTableInput.ModelPrice {
    public init(from decoder: Decoder) throws {
        try StrictKeys.check(decoder, CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        input = try container.decode(Decimal6.self, forKey: .input)
        output = try container.decode(Decimal6.self, forKey: .output)
    }
}

extension PriceTableInput.OrgTerms {
    public init(from decoder: Decoder) throws {
        try StrictKeys.check(decoder, CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        discountPercent = try container.decodeIfPresent(Decimal6.self, forKey: .discountPercent)
        models = try container.decodeIfPresent([String: PriceTableInput.ModelPrice].self, forKey: .models)
    }
}

/// `POST /admin/v1/prices`: a table and when it starts (ISO 8601, e.g. `2027-01-01T00:00:00Z`).
public struct PriceVersionRequest: Codable, Sendable {
    public var effectiveFrom: String
    public var table: PriceTableInput

    enum CodingKeys: String, CodingKey, CaseIterable { case effectiveFrom = "effective_from", table }

    public init(effectiveFrom: String, table: PriceTableInput) {
        self.effectiveFrom = effectiveFrom
        self.table = table
    }

    public init(from decoder: Decoder) throws {
        try StrictKeys.check(decoder, CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        effectiveFrom = try container.decode(String.self, forKey: .effectiveFrom)
        table = try container.decode(PriceTableInput.self, forKey: .table)
    }

    public static func decode(json data: Data) throws -> PriceVersionRequest { try StrictKeys.decode(data, what: "price version") }


    /// The start instant, or a clear error.
    public func start() throws -> UnixMillis {
        guard let instant = UnixMillis.parseISODate(effectiveFrom) else {
            throw AirlockError.invalidArgument(
                "effective_from: '\(effectiveFrom.controlCharactersReplaced.clipped(to: 80))' is not an ISO 8601 date or time")
        }
        return instant
    }
}

/// A price version as the API and CLI show it: amounts as decimals, orgs by name.
public struct PriceVersionView: Codable, Sendable, Equatable {
    public var version: Int64
    public var effectiveFrom: UnixMillis
    public var createdAt: UnixMillis
    public var table: PriceTableInput

    enum CodingKeys: String, CodingKey { case version, effectiveFrom = "effective_from", createdAt = "created_at", table }

    public init(_ version: PriceVersion, orgNames: [String: String]) {
        self.version = version.version
        effectiveFrom = version.effectiveFrom
        createdAt = version.createdAt
        table = PriceTableInput(version.table, orgNames: orgNames)
    }
}
