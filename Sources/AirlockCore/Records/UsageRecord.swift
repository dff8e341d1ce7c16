/// What one served request consumed: the row appended to the usage ledger (seed 004 § 34, plus
/// the fields the brief adds). Chain fields (`seq`, `prev_hash`, `hash`) are assigned by the
/// ledger at append time and returned as a ``ChainPosition``.
public struct UsageRecord: Codable, Sendable, Equatable {
    /// Whether token counts came from the engine's `usage` or were estimated by Airlock.
    public enum TokenSource: String, Codable, Sendable {
        case engine
        case estimated
    }

    public var usageID: String
    public var requestID: String
    public var timestamp: UnixMillis
    public var orgID: OrgID
    public var envID: EnvID
    public var keyID: KeyID
    public var zone: String
    public var model: String
    public var node: String
    public var promptTokens: Int64
    public var completionTokens: Int64
    public var totalTokens: Int64
    public var latencyMillis: Int64
    /// Cost in micro-units of the price table's currency, computed once at append time.
    public var costMicros: Int64
    public var streamed: Bool
    public var finishReason: String?
    public var tokenSource: TokenSource
    /// Another node failed before the first byte and this one served (seed 004 § 26.4).
    /// Part of the chained hash from ledger format 2 on.
    public var failover: Bool

    public init(
        usageID: String, requestID: String, timestamp: UnixMillis, orgID: OrgID, envID: EnvID,
        keyID: KeyID, zone: String, model: String, node: String, promptTokens: Int64,
        completionTokens: Int64, latencyMillis: Int64, costMicros: Int64, streamed: Bool,
        finishReason: String?, tokenSource: TokenSource, failover: Bool = false
    ) {
        self.usageID = usageID
        self.requestID = requestID
        self.timestamp = timestamp
        self.orgID = orgID
        self.envID = envID
        self.keyID = keyID
        self.zone = zone
        self.model = model
        self.node = node
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = promptTokens + completionTokens
        self.latencyMillis = latencyMillis
        self.costMicros = costMicros
        self.streamed = streamed
        self.finishReason = finishReason
        self.tokenSource = tokenSource
        self.failover = failover
    }
}
