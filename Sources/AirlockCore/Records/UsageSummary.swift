import Foundation

/// Ledger totals per org and model over a time range, with the rows' seq range and the chain
/// head at the moment of reading — what a licence usage report states (one read snapshot, so
/// the totals and the head agree).
public struct UsageSummary: Sendable, Equatable, Codable {
    public struct Line: Sendable, Equatable, Codable {
        public var orgID: String
        public var orgName: String
        public var model: String
        public var requests: Int64
        public var promptTokens: Int64
        public var completionTokens: Int64
        public var totalTokens: Int64
        /// Rows whose tokens Airlock estimated (the engine reported none).
        public var estimatedRequests: Int64

        enum CodingKeys: String, CodingKey {
            case orgID = "org_id", orgName = "org_name", model, requests, promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens", totalTokens = "total_tokens", estimatedRequests = "estimated_requests"
        }

        public init(orgID: String, orgName: String, model: String, requests: Int64, promptTokens: Int64, completionTokens: Int64,
                    totalTokens: Int64, estimatedRequests: Int64) {
            self.orgID = orgID
            self.orgName = orgName
            self.model = model
            self.requests = requests
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.totalTokens = totalTokens
            self.estimatedRequests = estimatedRequests
        }
    }

    public var lines: [Line]
    public var rows: Int64
    /// First and last ledger seq inside the range; nil when it holds no row.
    public var firstSeq: Int64?
    public var lastSeq: Int64?
    public var headSeq: Int64
    public var headHash: String

    enum CodingKeys: String, CodingKey {
        case lines, rows, firstSeq = "first_seq", lastSeq = "last_seq", headSeq = "head_seq", headHash = "head_hash"
    }

    public init(lines: [Line], rows: Int64, firstSeq: Int64?, lastSeq: Int64?, headSeq: Int64, headHash: String) {
        self.lines = lines
        self.rows = rows
        self.firstSeq = firstSeq
        self.lastSeq = lastSeq
        self.headSeq = headSeq
        self.headHash = headHash
    }
}
