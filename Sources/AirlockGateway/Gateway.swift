import AirlockAdmission
import AirlockCore
import AirlockIdentity
import AirlockScheduler
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// The request path for `/v1/*`, top-down: authenticate → validate → admit → pick an engine →
/// proxy → account (settle the counters, append the ledger row) → respond. Every request ends
/// in exactly one ``RequestOutcome``; every served one in exactly one ledger row.
public final class Gateway: Sendable {
    /// What the gateway needs from the rest of the daemon.
    public struct Dependencies: Sendable {
        public var resolver: IdentityResolver
        public var admission: Admission
        public var recorder: UsageRecorder
        /// Picks the nodes for each request (registered agents, and any static engines).
        public var scheduler: Scheduler
        public var client: HTTPClient
        public var settings: GatewaySettings
        public var requestCaps: AirlockConfig.Limits
        public var clock: WallClock
        public var logger: Logger
        /// The licence's verdict now (default: allowed, for tests and tools without one).
        public var license: @Sendable () -> LicenseVerdict = { .allowed(warning: nil) }
        /// Where the org stands against its monthly cap for this model (`SpendGuard.verdict`;
        /// default: no guardrails).
        public var budget: @Sendable (OrgID, String) -> SpendGuard.Verdict = { _, _ in .allow }

        public init(resolver: IdentityResolver, admission: Admission, recorder: UsageRecorder,
                    scheduler: Scheduler, client: HTTPClient, settings: GatewaySettings,
                    requestCaps: AirlockConfig.Limits, clock: WallClock = .system, logger: Logger) {
            self.resolver = resolver
            self.admission = admission
            self.recorder = recorder
            self.scheduler = scheduler
            self.client = client
            self.settings = settings
            self.requestCaps = requestCaps
            self.clock = clock
            self.logger = logger
        }
    }

    let deps: Dependencies
    /// Outcomes of the last five minutes, for the dashboard's request and error rates.
    public let outcomes = OutcomeTally()

    public init(_ dependencies: Dependencies) {
        deps = dependencies
    }

    /// One inference request, whatever happens: the response to send. `loop` is the event loop
    /// of the client's connection, where a stream is sent and relayed (nil: Swift's executor).
    func handle(_ kind: InferenceKind, _ request: Request, loop: (any EventLoop)?) async -> Response {
        let verdict = deps.license()
        var call = CallContext(kind: kind, clock: deps.clock, licenseWarning: verdict.warning)
        call.loop = loop
        do {
            let identity = try await authenticate(request.headers)
            call.keyID = identity.keyID.rawValue
            if case let .refused(message) = verdict { throw OpenAIError.licenseExpired(message) }
            let body = try await collectBody(request)
            let inference = try InferenceRequest.parse(kind, body: body, defaultMaxTokens: deps.requestCaps.maxTokensPerRequest)
            guard identity.allows(model: inference.model) else { throw OpenAIError.modelNotAllowed(inference.model) }
            guard deps.scheduler.registry.placement.serves(inference.model, for: identity.orgID) else {
                throw OpenAIError.modelNotFound(inference.model)
            }
            call.model = inference.model
            switch deps.budget(identity.orgID, inference.model) {
            case .allow: break
            case let .warn(message): call.budgetWarning = message
            case let .refuse(message):
                GatewayMetrics.refusedByGuardrail()
                throw OpenAIError.monthlyCapReached(message)
            }
            let ticket = try admit(identity, inference, bodyBytes: body.readableBytes)
            return await proxy(call, identity: identity, inference: inference, ticket: ticket)
        } catch let error as OpenAIError {
            return finish(call, error: error)
        } catch {
            deps.logger.error("request failed inside Airlock", metadata: ["request_id": "\(call.requestID)", "error": "\(error)"])
            return finish(call, error: .internalError, outcome: .internalError)
        }
    }

    /// `GET /v1/models`: the models some node this key's org may use serves, that the key may use.
    /// `GET /v1/models/{model}` (`only`): that model, or 404 `model_not_found` — the same answer
    /// for a model nobody serves and one this key may not use, so a key cannot probe the catalog.
    func models(_ request: Request, only id: String? = nil) async -> Response {
        var call = CallContext(kind: nil, clock: deps.clock, licenseWarning: deps.license().warning)
        do {
            let identity = try await authenticate(request.headers)
            call.keyID = identity.keyID.rawValue
            let visible = deps.scheduler.registry.placement.models(for: identity.orgID).filter { identity.allows(model: $0) }
            let object: Any
            if let id {
                guard visible.contains(id) else { throw OpenAIError.modelNotFound(id) }
                object = Self.modelObject(id)
            } else {
                object = ["object": "list", "data": visible.map(Self.modelObject)]
            }
            let body = try JSONSerialization.data(withJSONObject: object)
            var headers = call.headers
            headers[.contentType] = "application/json"
            deps.logger.debug("models listed", metadata: ["request_id": "\(call.requestID)"])
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        } catch let error as OpenAIError {
            return finish(call, error: error)
        } catch {
            return finish(call, error: .internalError, outcome: .internalError)
        }
    }

    private static func modelObject(_ id: String) -> [String: Any] {
        ["id": id, "object": "model", "created": 0, "owned_by": "airlock"]
    }

    private func authenticate(_ headers: HTTPFields) async throws -> KeyIdentity {
        guard let token = BearerToken.extract(headers) else { throw OpenAIError.missingKey }
        switch try await deps.resolver.resolve(token) {
        case let .authenticated(identity): return identity
        case let .refused(refusal): throw OpenAIError.refused(refusal)
        }
    }

    private func collectBody(_ request: Request) async throws -> ByteBuffer {
        let limit = deps.requestCaps.maxRequestBytes
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit { throw OpenAIError.tooLarge(limit) }
        var request = request
        do {
            return try await request.collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw OpenAIError.tooLarge(limit)
        } catch let timeout as RequestReadTimeout {
            throw OpenAIError.requestTimeout(timeout.seconds)
        } catch let error as HTTPParserError where error == .invalidEOFState {
            throw OpenAIError.bodyIncomplete  // the client closed its side mid-body
        } catch let error as HTTPParserError {
            throw OpenAIError.invalidRequest("The request body is not valid HTTP/1.1: \(error).")
        } catch {
            // The connection ended mid-body (a client that hung up, or TLS cut without its
            // close_notify): the client's doing, not a failure of Airlock to page anyone about.
            throw OpenAIError.bodyIncomplete
        }
    }

    private func admit(_ identity: KeyIdentity, _ inference: InferenceRequest, bodyBytes: Int) throws -> AdmissionTicket {
        let request = AdmissionRequest(
            orgID: identity.orgID, envID: identity.envID, keyID: identity.keyID, model: inference.model,
            promptTokens: inference.promptTokenEstimate, maxTokens: inference.maxTokens, bodyBytes: bodyBytes)
        switch try deps.admission.admit(request) {
        case let .admitted(ticket): return ticket
        case let .refused(refusal):
            GatewayMetrics.refused(refusal)
            throw OpenAIError.admission(refusal)
        }
    }

    /// Answers with an OpenAI-shaped error and records the request's one outcome.
    func finish(_ call: CallContext, error: OpenAIError, outcome: RequestOutcome = .refused) -> Response {
        var headers = call.headers
        headers[.contentType] = "application/json"
        if let retry = error.retryAfterSeconds { headers[.retryAfter] = String(retry) }
        if let rateLimits = error.rateLimits { RateLimitHeaders.add(rateLimits, to: &headers) }
        record(call, outcome, status: Int(error.status.code), detail: error.code)
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: error.body))
    }

    /// The request's one outcome: a log line (served at debug, refusals at info, failures at warning).
    func record(_ call: CallContext, _ outcome: RequestOutcome, status: Int, detail: String? = nil) {
        outcomes.count(outcome, at: call.startedAt)
        GatewayMetrics.outcome(outcome, model: call.model)
        let level: Logger.Level = outcome == .served ? .debug : (outcome == .refused ? .info : .warning)
        deps.logger.log(level: level, "request \(outcome.rawValue)", metadata: [
            "request_id": "\(call.requestID)", "path": "\(call.kind?.rawValue ?? "/v1/models")", "status": "\(status)",
            "code": "\(detail ?? "-")", "ms": "\(deps.clock.now().value - call.startedAt.value)", "key_id": "\(call.keyID ?? "-")",
        ])
    }
}

/// Per-request facts the whole path shares.
struct CallContext: Sendable {
    var kind: InferenceKind?
    var requestID: String
    var startedAt: UnixMillis
    /// Set once the request names a model some node serves; metrics label by it.
    var model: String?
    /// The key's id (`key_…`, never its secret) once it authenticated: the outcome line names
    /// it, so that a run of refusals — invalid bodies, limits — can be traced to the key.
    var keyID: String?
    /// Sent with every response while the licence is in grace or absent.
    var licenseWarning: String?
    /// Sent while the caller's org is at 80 % or more of a monthly cap it is not refused at.
    var budgetWarning: String?
    /// The client connection's event loop, if the router said: a stream is sent and relayed there.
    var loop: (any EventLoop)?

    init(kind: InferenceKind?, clock: WallClock, licenseWarning: String? = nil) {
        self.kind = kind
        startedAt = clock.now()
        requestID = "req_" + UsageID.compact(at: startedAt)
        self.licenseWarning = licenseWarning
    }

    static let licenseWarningHeader = HTTPField.Name("x-airlock-license-warning")!
    static let budgetWarningHeader = HTTPField.Name("x-airlock-budget-warning")!

    var headers: HTTPFields {
        var headers = HTTPFields()
        headers[RateLimitHeaders.requestID] = requestID
        if let licenseWarning { headers[Self.licenseWarningHeader] = licenseWarning }
        if let budgetWarning { headers[Self.budgetWarningHeader] = budgetWarning }
        return headers
    }
}
