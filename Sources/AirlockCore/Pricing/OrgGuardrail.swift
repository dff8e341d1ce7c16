/// An org's monthly cap (seed 004 § 42, issue H): spend and/or tokens per calendar month (UTC).
/// At 80 % a warning (audit row, dashboard banner, response header); at 100 % the org's
/// serverless traffic — models it holds no reserved capacity for — is refused with 403
/// `quota_exceeded`, or only warned about (`warn`).
public struct OrgGuardrail: Codable, Sendable, Equatable {
    public enum OnExceed: String, Codable, Sendable, CaseIterable {
        case refuse
        case warn
    }

    public var orgID: OrgID
    /// Micro-units of the price table's currency.
    public var monthlySpendMicros: Int64?
    public var monthlyTokens: Int64?
    public var onExceed: OnExceed
    public var updatedAt: UnixMillis

    enum CodingKeys: String, CodingKey {
        case orgID = "org_id", monthlySpendMicros = "monthly_spend_micros", monthlyTokens = "monthly_tokens"
        case onExceed = "on_exceed", updatedAt = "updated_at"
    }

    public init(orgID: OrgID, monthlySpendMicros: Int64?, monthlyTokens: Int64?, onExceed: OnExceed, updatedAt: UnixMillis) {
        self.orgID = orgID
        self.monthlySpendMicros = monthlySpendMicros
        self.monthlyTokens = monthlyTokens
        self.onExceed = onExceed
        self.updatedAt = updatedAt
    }

    /// `spend 2500.00, 1000000 tokens`: the caps for people.
    public var capsDescription: String {
        [monthlySpendMicros.map { "spend " + Micros.format($0, places: 2) }, monthlyTokens.map { "\($0) tokens" }]
            .compactMap { $0 }.joined(separator: ", ")
    }

    /// The warning threshold, in percent of the cap.
    public static let warningPercent: Int64 = 80

    /// How much of the cap `tokens` and `costMicros` use, in whole percent (the larger of the
    /// two caps' shares, rounded down).
    public func percentUsed(tokens: Int64, costMicros: Int64) -> Int64 {
        let spend = monthlySpendMicros.map { Int64((Int128(costMicros) * 100 / Int128($0))) } ?? 0
        let volume = monthlyTokens.map { Int64((Int128(tokens) * 100 / Int128($0))) } ?? 0
        return max(spend, volume)
    }
}

/// Where an org stands against its guardrail this month.
public struct OrgBudget: Codable, Sendable, Equatable {
    public enum Level: String, Codable, Sendable {
        case ok
        case warning
        case exceeded
    }

    public var guardrail: OrgGuardrail
    public var orgName: String
    /// The month's first day (days since 1970, UTC).
    public var month: Int64
    public var tokens: Int64
    public var costMicros: Int64
    public var percentUsed: Int64
    public var level: Level

    enum CodingKeys: String, CodingKey {
        case guardrail, orgName = "org_name", month, tokens, costMicros = "cost_micros", percentUsed = "percent_used", level
    }

    public init(guardrail: OrgGuardrail, orgName: String, month: Int64, tokens: Int64, costMicros: Int64) {
        self.guardrail = guardrail
        self.orgName = orgName
        self.month = month
        self.tokens = tokens
        self.costMicros = costMicros
        percentUsed = guardrail.percentUsed(tokens: tokens, costMicros: costMicros)
        level = percentUsed >= 100 ? .exceeded : percentUsed >= OrgGuardrail.warningPercent ? .warning : .ok
    }
}
