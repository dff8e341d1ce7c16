/// The owner's side of the ledger over a period (seed 004 § 43, issue H): what each node cost to
/// run and how busy it was, and per model the cost of a million tokens against what orgs were
/// charged for them. Node costs come from the price versions' `node_hour_cost`; a node counts
/// from its enrolment (or, for a node without a row, such as a development engine, for the
/// whole period if it served anything) to the period's end, revoked nodes only while they served.
public struct FinOpsReport: Codable, Sendable, Equatable {
    public struct NodeLine: Codable, Sendable, Equatable {
        public var node: String
        /// Node-milliseconds counted in the period.
        public var heldMillis: Int64
        public var costMicros: Int64
        public var requests: Int64
        public var tokens: Int64
        /// Tokens served per second of the period, on average.
        public var tokensPerSecond: Double
        /// Request-seconds per second: the average number of requests the node was serving at
        /// once (latency summed over the period's length).
        public var averageInFlight: Double

        enum CodingKeys: String, CodingKey {
            case node, heldMillis = "held_ms", costMicros = "cost_micros", requests, tokens
            case tokensPerSecond = "tokens_per_second", averageInFlight = "average_in_flight"
        }

        public init(node: String, heldMillis: Int64, costMicros: Int64, requests: Int64, tokens: Int64, tokensPerSecond: Double,
                    averageInFlight: Double) {
            self.node = node
            self.heldMillis = heldMillis
            self.costMicros = costMicros
            self.requests = requests
            self.tokens = tokens
            self.tokensPerSecond = tokensPerSecond
            self.averageInFlight = averageInFlight
        }
    }

    public struct ModelLine: Codable, Sendable, Equatable {
        public var model: String
        public var tokens: Int64
        /// Node costs shared out by each node's tokens per model.
        public var costMicros: Int64
        /// What orgs were charged (the ledger rows' `cost_micros`).
        public var chargedMicros: Int64
        /// Cost of one million tokens; nil when no token was served.
        public var costPerMillionMicros: Int64?
        public var marginMicros: Int64

        enum CodingKeys: String, CodingKey {
            case model, tokens, costMicros = "cost_micros", chargedMicros = "charged_micros"
            case costPerMillionMicros = "cost_per_million_micros", marginMicros = "margin_micros"
        }

        public init(model: String, tokens: Int64, costMicros: Int64, chargedMicros: Int64) {
            self.model = model
            self.tokens = tokens
            self.costMicros = costMicros
            self.chargedMicros = chargedMicros
            costPerMillionMicros = tokens > 0 ? Int64((Int128(costMicros) * 1_000_000 + Int128(tokens / 2)) / Int128(tokens)) : nil
            marginMicros = chargedMicros - costMicros
        }
    }

    public var from: UnixMillis
    public var to: UnixMillis
    public var currency: String?
    public var nodes: [NodeLine]
    public var models: [ModelLine]

    public init(from: UnixMillis, to: UnixMillis, currency: String?, nodes: [NodeLine], models: [ModelLine]) {
        self.from = from
        self.to = to
        self.currency = currency
        self.nodes = nodes
        self.models = models
    }
}
