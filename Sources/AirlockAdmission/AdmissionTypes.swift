import AirlockCore
import AirlockCounters

/// The four layers of limits (seed 004 § 14), outermost first, plus the per-request caps.
public enum AdmissionLayer: String, Sendable, CaseIterable {
    case request
    case global
    case org
    case env
    case key
}

/// Which limit refused a request.
public enum LimitKind: String, Sendable {
    case maxRequestBytes = "max_request_bytes"
    case maxTokensPerRequest = "max_tokens_per_request"
    case tokensPerDay = "tokens_per_day"
    case requestsPerMinute = "requests_per_minute"
    case tokensPerMinute = "tokens_per_minute"
    case tokensPerSecond = "tokens_per_second"
    case concurrency
    case poolSaturated = "pool_saturated"
}

/// What the gateway must know to admit one request.
public struct AdmissionRequest: Sendable {
    public var orgID: OrgID
    public var envID: EnvID
    public var keyID: KeyID
    public var model: String
    /// Estimated prompt tokens (the gateway counts or estimates before the engine sees it).
    public var promptTokens: Int64
    /// The completion cap the request asked for (`max_tokens`), or the default cap.
    public var maxTokens: Int64
    public var bodyBytes: Int

    public init(orgID: OrgID, envID: EnvID, keyID: KeyID, model: String, promptTokens: Int64, maxTokens: Int64, bodyBytes: Int) {
        self.orgID = orgID
        self.envID = envID
        self.keyID = keyID
        self.model = model
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
        self.bodyBytes = bodyBytes
    }

    /// Tokens charged at admission; trued up to the engine's count at settlement.
    public var estimatedTokens: Int64 { promptTokens + maxTokens }
}

/// The limits that apply to one request, layer by layer.
public struct EffectiveLimits: Sendable, Equatable {
    public var global: LimitSet
    public var org: LimitSet
    public var env: LimitSet
    public var key: LimitSet
    public var maxTokensPerRequest: Int
    public var maxRequestBytes: Int
    /// The org's reserved capacity for this model in tokens/s (1 CU = 1 token/s), 0 if none.
    public var reservedTokensPerSecond: Int

    public init(global: LimitSet, org: LimitSet, env: LimitSet, key: LimitSet, maxTokensPerRequest: Int, maxRequestBytes: Int, reservedTokensPerSecond: Int = 0) {
        self.global = global
        self.org = org
        self.env = env
        self.key = key
        self.maxTokensPerRequest = maxTokensPerRequest
        self.maxRequestBytes = maxRequestBytes
        self.reservedTokensPerSecond = reservedTokensPerSecond
    }

    func limits(for layer: AdmissionLayer) -> LimitSet {
        switch layer {
        case .global: return global
        case .org: return org
        case .env: return env
        case .key: return key
        case .request: return LimitSet()
        }
    }
}

/// Why a request was refused, with everything the gateway needs for an OpenAI-shaped error and
/// `Retry-After`: the layer and limit, the HTTP status and error code the seed names, and how
/// long to wait (nil when waiting cannot help, e.g. a request larger than a limit).
public struct AdmissionRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public var layer: AdmissionLayer
    public var limit: LimitKind
    public var limitValue: Int64
    public var retryAfterMillis: Int64?
    public var rateLimits: RateLimitSnapshot

    /// 429 for rate limits and shedding, 403 for quotas and per-request caps (seed 004 § 16).
    public var httpStatus: Int {
        switch limit {
        case .tokensPerDay, .maxTokensPerRequest, .maxRequestBytes: return 403
        default: return 429
        }
    }

    /// `server_busy` when the appliance sheds serverless load; `quota_exceeded` for quotas;
    /// otherwise `rate_limit_exceeded`.
    public var code: String {
        switch (layer, limit) {
        case (_, .poolSaturated), (.global, _): return "server_busy"
        case (_, .tokensPerDay), (_, .maxTokensPerRequest), (_, .maxRequestBytes): return "quota_exceeded"
        default: return "rate_limit_exceeded"
        }
    }

    public var description: String {
        "\(code): \(layer.rawValue) \(limit.rawValue) limit \(limitValue)"
            + (retryAfterMillis.map { ", retry after \($0) ms" } ?? "")
    }
}

/// The figures behind OpenAI's `x-ratelimit-*` headers: the tightest layer's per-minute request
/// and token limits, what remains of them, and when they reset.
public struct RateLimitSnapshot: Sendable, Equatable {
    public var limitRequests: Int64?
    public var remainingRequests: Int64?
    public var resetRequestsMillis: Int64
    public var limitTokens: Int64?
    public var remainingTokens: Int64?
    public var resetTokensMillis: Int64

    /// The figures once an admitted request is counted: what the caller sees on its response.
    func charged(tokens: Int64) -> RateLimitSnapshot {
        var after = self
        after.remainingRequests = remainingRequests.map { max(0, $0 - 1) }
        after.remainingTokens = remainingTokens.map { max(0, $0 - tokens) }
        return after
    }

    public static let unlimited = RateLimitSnapshot(
        limitRequests: nil, remainingRequests: nil, resetRequestsMillis: 0,
        limitTokens: nil, remainingTokens: nil, resetTokensMillis: 0)
}

/// Proof of admission, handed back at settlement to true up tokens and release the slots.
public struct AdmissionTicket: Sendable, Equatable {
    public var request: AdmissionRequest.Scopes
    public var estimatedTokens: Int64
    public var admittedAtMillis: Int64
    /// The concurrency lease settlement releases (it frees itself when it expires).
    public var lease: Lease
    /// True when the request ran on the org's reserved capacity (bypassed the global layer).
    public var reserved: Bool
    public var rateLimits: RateLimitSnapshot
}

extension AdmissionRequest {
    /// The counter scopes a request is charged to.
    public struct Scopes: Sendable, Equatable {
        /// The layers' scope names, outermost first: global, org, env, key.
        public var names: [String]
        /// The org's reserved-capacity bucket for the request's model.
        public var reserved: String
    }

    var scopes: Scopes {
        Scopes(names: ScopeName.layers(org: orgID.rawValue, env: envID.rawValue, key: keyID.rawValue),
               reserved: ScopeName.reserved(org: orgID.rawValue, model: model))
    }
}

/// The outcome of an admission check.
public enum AdmissionDecision: Sendable, Equatable {
    case admitted(AdmissionTicket)
    case refused(AdmissionRefusal)
}
