import AirlockAdmission
import AirlockIdentity
import Foundation
import Hummingbird
import NIOCore

/// An error as OpenAI shapes it — `{"error":{"message","type","param","code"}}` — with its HTTP
/// status and, for limits, `Retry-After`. Messages are written for the caller: they never name
/// another tenant, a node, an engine address or a path on the appliance (seed 004 § 13.1).
public struct OpenAIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?
    public var retryAfterSeconds: Int64?
    /// The `x-ratelimit-*` figures to send with the error: set once a request was admitted or
    /// refused by a limit, nil before admission.
    public var rateLimits: RateLimitSnapshot?

    public init(status: HTTPResponse.Status, message: String, type: String, param: String? = nil, code: String? = nil, retryAfterSeconds: Int64? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// The JSON body, built by hand so that its bytes are stable and cheap.
    public var body: ByteBuffer {
        var text = #"{"error":{"message":"#
        text += JSONText.quoted(message)
        text += #","type":"# + JSONText.quoted(type)
        text += #","param":"# + (param.map(JSONText.quoted) ?? "null")
        text += #","code":"# + (code.map(JSONText.quoted) ?? "null")
        text += "}}"
        return ByteBuffer(string: text)
    }
}

extension OpenAIError {
    static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> OpenAIError {
        OpenAIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    static let missingKey = OpenAIError(
        status: .unauthorized, message: "You didn't provide an API key. Send it as 'Authorization: Bearer alk_…'.",
        type: "invalid_request_error", code: "invalid_api_key")

    /// 401 for a key that is not valid (whatever the reason, so a caller cannot probe which keys
    /// exist), 403 `tenant_suspended` for a suspended org, environment or key (seed 004 § 20).
    static func refused(_ refusal: KeyRefusal) -> OpenAIError {
        switch refusal {
        case let .suspended(level):
            return OpenAIError(status: .forbidden, message: "This API key's \(level.rawValue) is suspended.",
                               type: "permission_error", code: "tenant_suspended")
        case .expired:
            return OpenAIError(status: .unauthorized, message: "The API key has expired.", type: "invalid_request_error", code: "invalid_api_key")
        default:
            return OpenAIError(status: .unauthorized, message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key")
        }
    }

    /// 403 once the appliance's licence is past its grace days: inference stops; the admin side,
    /// exports and the ledger do not.
    static func licenseExpired(_ message: String) -> OpenAIError {
        OpenAIError(status: .forbidden, message: message, type: "permission_error", code: "license_expired")
    }

    /// 403 once the org has used its monthly spend or token cap (issue H guardrails).
    static func monthlyCapReached(_ message: String) -> OpenAIError {
        OpenAIError(status: .forbidden, message: message, type: "insufficient_quota", code: "quota_exceeded")
    }

    static func modelNotAllowed(_ model: String) -> OpenAIError {
        OpenAIError(status: .forbidden, message: "This API key may not use the model '\(model.clipped())'.",
                    type: "permission_error", param: "model", code: "model_not_allowed")
    }

    static func modelNotFound(_ model: String) -> OpenAIError {
        OpenAIError(status: .notFound, message: "The model '\(model.clipped())' does not exist or is not served here.",
                    type: "invalid_request_error", param: "model", code: "model_not_found")
    }

    static func admission(_ refusal: AdmissionRefusal) -> OpenAIError {
        let retry = refusal.retryAfterMillis.map { max(1, ($0 + 999) / 1000) }
        let message: String
        switch (refusal.layer, refusal.limit) {
        case (_, .maxRequestBytes):
            message = "The request body is larger than the \(refusal.limitValue)-byte limit."
        case (_, .maxTokensPerRequest):
            message = "max_tokens is above this appliance's limit of \(refusal.limitValue) tokens per request."
        case (_, .poolSaturated), (.global, _):
            message = "The inference pool is at capacity. Retry after \(retry ?? 1) s."
        case let (layer, limit):
            message = "\(layer.rawValue.capitalized) limit reached: \(limit.rawValue) \(refusal.limitValue)."
                + (retry.map { " Retry after \($0) s." } ?? "")
        }
        let type = refusal.httpStatus == 429 ? (refusal.code == "server_busy" ? "server_error" : "rate_limit_error") : "insufficient_quota"
        let param: String? = refusal.limit == .maxTokensPerRequest ? "max_tokens" : nil
        var error = OpenAIError(status: .init(code: refusal.httpStatus), message: message, type: type, param: param,
                                code: refusal.code, retryAfterSeconds: retry)
        error.rateLimits = refusal.rateLimits
        return error
    }

    static func tooLarge(_ limit: Int) -> OpenAIError {
        OpenAIError(status: .contentTooLarge, message: "The request body is larger than the \(limit)-byte limit.",
                    type: "invalid_request_error", code: "request_too_large")
    }

    /// The body did not arrive within `api.request_read_timeout_seconds` (``RequestReadDeadline``).
    static func requestTimeout(_ seconds: Int) -> OpenAIError {
        OpenAIError(status: .requestTimeout, message: "The request body did not arrive within \(seconds) s.",
                    type: "invalid_request_error", code: "request_timeout")
    }

    static let bodyIncomplete = OpenAIError(
        status: .badRequest, message: "The connection ended before the request body was complete.",
        type: "invalid_request_error", code: "incomplete_request")

    static let noEngine = OpenAIError(
        status: .serviceUnavailable, message: "No engine for this model is available right now. Retry shortly.",
        type: "server_error", code: "engine_unavailable", retryAfterSeconds: 1)

    /// Every node for the model is at the configured shedding load and the request is not inside
    /// its org's reserved capacity (seed 004 § 28), or every node that could take it already has
    /// `max_connections_per_engine` requests in flight.
    static let overloaded = OpenAIError(
        status: .tooManyRequests, message: "The engines for this model are at capacity right now. Retry shortly.",
        type: "server_error", code: "server_overloaded", retryAfterSeconds: 1)

    static let engineFailed = OpenAIError(
        status: .badGateway, message: "The inference engine failed to answer this request.",
        type: "server_error", code: "engine_error")

    static func engineRejected(_ message: String?, hiding names: Set<String> = []) -> OpenAIError {
        .invalidRequest("The engine rejected the request" + EngineMessage.reason(message, hiding: names))
    }

    /// An error event an engine sent in the middle of a stream, relayed in OpenAI's shape.
    static func engineFailedMidStream(_ message: String?, hiding names: Set<String> = []) -> OpenAIError {
        OpenAIError(status: .badGateway,
                    message: "The inference engine failed" + EngineMessage.reason(message, hiding: names),
                    type: "server_error", code: "engine_error")
    }

    static let internalError = OpenAIError(
        status: .internalServerError, message: "Airlock could not complete the request; it was not billed.",
        type: "server_error", code: "internal_error")
}

/// Small JSON text helpers for bodies Airlock writes itself.
enum JSONText {
    static func quoted(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}
