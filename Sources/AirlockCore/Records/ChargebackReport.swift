/// What a chargeback report is split by (issue H): any combination, in this order.
public enum ReportDimension: String, Codable, Sendable, CaseIterable {
    case org, env, key, model, zone, day
}

/// A chargeback report: the ledger's served requests, tokens and cost over a period, grouped,
/// with reserved-capacity charges beside them and the chain position it was read at — an auditor
/// re-derives every figure from the rows with `seq` ≤ `headSeq` and `from` ≤ `ts` < `to`.
public struct ChargebackReport: Codable, Sendable, Equatable {
    public struct Line: Codable, Sendable, Equatable {
        /// The group's values, only for the dimensions asked for (ids, and names for people).
        public var orgID: String?
        public var orgName: String?
        public var envID: String?
        public var envName: String?
        public var keyID: String?
        public var keyName: String?
        public var model: String?
        public var zone: String?
        /// `2026-12-05` (UTC).
        public var day: String?
        public var requests: Int64
        public var promptTokens: Int64
        public var completionTokens: Int64
        public var totalTokens: Int64
        public var costMicros: Int64
        public var estimatedRequests: Int64

        enum CodingKeys: String, CodingKey {
            case orgID = "org_id", orgName = "org_name", envID = "env_id", envName = "env_name", keyID = "key_id", keyName = "key_name"
            case model, zone, day, requests, promptTokens = "prompt_tokens", completionTokens = "completion_tokens"
            case totalTokens = "total_tokens", costMicros = "cost_micros", estimatedRequests = "estimated_requests"
        }

        public init(requests: Int64 = 0, promptTokens: Int64 = 0, completionTokens: Int64 = 0, totalTokens: Int64 = 0,
                    costMicros: Int64 = 0, estimatedRequests: Int64 = 0) {
            self.requests = requests
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.totalTokens = totalTokens
            self.costMicros = costMicros
            self.estimatedRequests = estimatedRequests
        }
    }

    /// An org's reserved capacity for one model over the period: capacity-unit hours held (from
    /// the reservation history) and their price under the versions in force.
    public struct ReservationCharge: Codable, Sendable, Equatable {
        public var orgID: String
        public var orgName: String
        public var model: String
        /// Capacity units × milliseconds held inside the period (exact; hours = ÷ 3,600,000).
        public var capacityUnitMillis: Int64
        public var costMicros: Int64

        enum CodingKeys: String, CodingKey {
            case orgID = "org_id", orgName = "org_name", model, capacityUnitMillis = "capacity_unit_ms", costMicros = "cost_micros"
        }

        public init(orgID: String, orgName: String, model: String, capacityUnitMillis: Int64, costMicros: Int64) {
            self.orgID = orgID
            self.orgName = orgName
            self.model = model
            self.capacityUnitMillis = capacityUnitMillis
            self.costMicros = costMicros
        }
    }

    public var from: UnixMillis
    public var to: UnixMillis
    public var groupBy: [ReportDimension]
    /// The price table's currency; nil while no price version exists.
    public var currency: String?
    public var lines: [Line]
    public var reservations: [ReservationCharge]
    /// The sums of `lines` (token usage only).
    public var totals: Line
    /// Ledger rows in the period, and the lowest and highest `seq` among them.
    public var rows: Int64
    public var firstSeq: Int64?
    public var lastSeq: Int64?
    public var headSeq: Int64
    public var headHash: String

    enum CodingKeys: String, CodingKey {
        case from, to, groupBy = "group_by", currency, lines, reservations, totals, rows, firstSeq = "first_seq", lastSeq = "last_seq"
        case headSeq = "head_seq", headHash = "head_hash"
    }

    public init(from: UnixMillis, to: UnixMillis, groupBy: [ReportDimension], currency: String?, lines: [Line],
                reservations: [ReservationCharge], rows: Int64, firstSeq: Int64?, lastSeq: Int64?, headSeq: Int64, headHash: String) {
        self.from = from
        self.to = to
        self.groupBy = groupBy
        self.currency = currency
        self.lines = lines
        self.reservations = reservations
        self.totals = lines.reduce(into: Line()) { sum, line in
            sum.requests += line.requests
            sum.promptTokens += line.promptTokens
            sum.completionTokens += line.completionTokens
            sum.totalTokens += line.totalTokens
            sum.costMicros += line.costMicros
            sum.estimatedRequests += line.estimatedRequests
        }
        self.rows = rows
        self.firstSeq = firstSeq
        self.lastSeq = lastSeq
        self.headSeq = headSeq
        self.headHash = headHash
    }
}

extension ChargebackReport.Line {
    /// The line's id and name for `dimension` (a name only for org, env and key).
    public func value(_ dimension: ReportDimension) -> (id: String?, name: String?) {
        switch dimension {
        case .org: (orgID, orgName)
        case .env: (envID, envName)
        case .key: (keyID, keyName)
        case .model: (model, nil)
        case .zone: (zone, nil)
        case .day: (day, nil)
        }
    }

    /// What a person reads for `dimension`: the name when there is one, else the id.
    public func label(_ dimension: ReportDimension) -> String {
        let (id, name) = value(dimension)
        return (name?.isEmpty == false ? name : id) ?? "-"
    }
}
