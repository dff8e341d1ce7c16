/// How usage over time is split for the dashboard's chart and `/admin/v1/usage`.
public enum UsageGrouping: String, Codable, Sendable, CaseIterable {
    case org
    case env
    case model
    case zone
}

/// One bar of a usage chart: the served requests and tokens of one group in one time bucket,
/// read from the ledger (so it shows what will be billed, not what was attempted).
public struct UsagePoint: Codable, Sendable, Equatable {
    public var bucketStart: UnixMillis
    /// The group's id (org / env id, model name, zone name)…
    public var group: String
    /// …and what a person reads (`org`, `org/env`, the model or zone name).
    public var label: String
    public var requests: Int
    public var promptTokens: Int64
    public var completionTokens: Int64
    public var totalTokens: Int64

    public init(bucketStart: UnixMillis, group: String, label: String, requests: Int, promptTokens: Int64,
                completionTokens: Int64, totalTokens: Int64) {
        self.bucketStart = bucketStart
        self.group = group
        self.label = label
        self.requests = requests
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens
    }
}
