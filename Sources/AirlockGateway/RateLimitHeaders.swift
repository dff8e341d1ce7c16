import AirlockAdmission
import HTTPTypes
import Hummingbird

/// OpenAI's rate-limit headers (`x-ratelimit-limit-requests`, `-remaining-…`, `-reset-…`, the
/// same for tokens) from the tightest per-minute layer admission saw, and `Retry-After`.
enum RateLimitHeaders {
    static let limitRequests = HTTPField.Name("x-ratelimit-limit-requests")!
    static let limitTokens = HTTPField.Name("x-ratelimit-limit-tokens")!
    static let remainingRequests = HTTPField.Name("x-ratelimit-remaining-requests")!
    static let remainingTokens = HTTPField.Name("x-ratelimit-remaining-tokens")!
    static let resetRequests = HTTPField.Name("x-ratelimit-reset-requests")!
    static let resetTokens = HTTPField.Name("x-ratelimit-reset-tokens")!
    static let requestID = HTTPField.Name("x-request-id")!

    static func add(_ snapshot: RateLimitSnapshot, to headers: inout HTTPFields) {
        if let limit = snapshot.limitRequests {
            headers[limitRequests] = String(limit)
            headers[remainingRequests] = String(max(0, snapshot.remainingRequests ?? limit))
            headers[resetRequests] = duration(snapshot.resetRequestsMillis)
        }
        if let limit = snapshot.limitTokens {
            headers[limitTokens] = String(limit)
            headers[remainingTokens] = String(max(0, snapshot.remainingTokens ?? limit))
            headers[resetTokens] = duration(snapshot.resetTokensMillis)
        }
    }

    /// OpenAI writes resets as Go durations: `120ms`, `1s`, `6m0s`, `1.5s`.
    static func duration(_ millis: Int64) -> String {
        let millis = max(0, millis)
        if millis < 1_000 { return "\(millis)ms" }
        let minutes = millis / 60_000
        let rest = millis % 60_000
        let seconds = rest % 1_000 == 0 ? "\(rest / 1_000)" : String(format: "%g", Double(rest) / 1_000)
        return minutes > 0 ? "\(minutes)m\(seconds)s" : "\(seconds)s"
    }
}
