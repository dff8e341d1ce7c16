import AirlockAdmin
import AirlockCore
import AirlockLicensing
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `/admin/v1/*` on 8443: JSON over `AdminActions`, for the dashboard's users, scripts and the
/// appliance's own tools. Every route names the permission it needs (`AdminRoute`); the policy
/// itself is `AccessPolicy`. A request is authenticated by a session cookie (signed in through
/// `POST /admin/v1/sessions`; state-changing requests then also need the session's CSRF token in
/// `X-CSRF-Token`) or by the local admin credential as a bearer token.
public struct AdminAPI: Sendable {
    public struct Dependencies: Sendable {
        public var actions: AdminActions
        public var ledger: LedgerAudit
        public var sessions: SessionStore
        public var credential: LocalAdminCredential
        /// What the node plane last saw, for node listings (nil before the first snapshot).
        public var liveNodes: @Sendable () -> LiveNodesSnapshot?
        /// The licence as the daemon last judged it.
        public var license: @Sendable () -> LicenseStatus?
        public var clock: WallClock
        public var logger: Logger
        /// The licence files, for activation through the API and dashboard (nil: not offered).
        public var licenseState: LicenseState?
        /// Called after an activation, so the daemon judges the new licence at once.
        public var licenseChanged: @Sendable () async -> Void
        /// The release this daemon runs from.
        public var release: RunningRelease = .current
        /// The agent roll-out (nil: not offered, e.g. in tests without a node plane).
        public var agentRollouts: (any AgentRollouts)?
        /// Reconciliation over the daemon's counters (nil: not offered, e.g. in tests without them).
        public var reconciler: (any UsageReconciler)?

        public init(actions: AdminActions, ledger: LedgerAudit, sessions: SessionStore, credential: LocalAdminCredential,
                    liveNodes: @escaping @Sendable () -> LiveNodesSnapshot?, license: @escaping @Sendable () -> LicenseStatus?,
                    clock: WallClock = .system, logger: Logger, licenseState: LicenseState? = nil,
                    licenseChanged: @escaping @Sendable () async -> Void = {}, agentRollouts: (any AgentRollouts)? = nil) {
            self.agentRollouts = agentRollouts
            self.licenseState = licenseState
            self.licenseChanged = licenseChanged
            self.actions = actions
            self.ledger = ledger
            self.sessions = sessions
            self.credential = credential
            self.liveNodes = liveNodes
            self.license = license
            self.clock = clock
            self.logger = logger
        }
    }

    public static let sessionCookie = "airlock_session"
    /// The largest admin request body; licence and activation files have their own, larger cap.
    static let maxBodyBytes = 64 * 1024
    /// Licence and activation files: small signed JSON, far under this.
    public static let maxLicenseFileBytes = 1024 * 1024

    public let dependencies: Dependencies
    public var actions: AdminActions { dependencies.actions }

    public init(_ dependencies: Dependencies) { self.dependencies = dependencies }

    /// Every admin-API route, in the order `docs/openapi.yaml` lists them.
    public static var routes: [AdminRoute] {
        sessionRoutes + tenancyRoutes + infrastructureRoutes + usageAndAuditRoutes + reconcileRoutes + accountingRoutes + userRoutes
    }

    public func add<Context: RequestContext>(to router: Router<Context>) {
        for route in Self.routes {
            router.on(RouterPath(route.routerPath), method: route.method) { request, context in
                await dispatch(route, request: request, context: context)
            }
        }
    }

    private func dispatch<Context: RequestContext>(_ route: AdminRoute, request: Request, context: Context) async -> Response {
        do {
            let principal: AdminPrincipal
            switch route.access {
            case .open:
                principal = AdminPrincipal(actor: AdminActor("anonymous"), role: .viewer)
            case .signedIn:
                principal = try await authenticate(request, mutating: route.method != .get).principal
            case let .permission(permission):
                principal = try await authenticate(request, mutating: route.method != .get).principal
                guard principal.may(permission) else {
                    try? await actions.auditAccessDenied(principal, action: route.operation, target: request.uri.path)
                    throw AccessError.forbidden("your role (\(principal.role.rawValue)) may not \(route.operation)")
                }
            }
            var parameters: [String: String] = [:]
            for name in route.parameterNames { parameters[name] = context.parameters.get(name) }
            var query: [String: String] = [:]
            for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: route.maxBodyBytes)
            } catch is NIOTooManyBytesError {
                throw HTTPError(.contentTooLarge)
            } catch {
                // The client's fault, not the appliance's: a body cut off, malformed chunked
                // framing, or one slower than `api.request_read_timeout_seconds`.
                throw AirlockError.invalidArgument("the request body could not be read: it ended early, was malformed or arrived too slowly")
            }
            let call = AdminCall(principal: principal, parameters: parameters, query: query, body: body,
                                 origin: ApplianceRequestContext.origin(of: context),
                                 sessionToken: request.cookies[Self.sessionCookie]?.value, contentType: request.headers[.contentType])
            let reply = try await route.handler(self, call)
            if route.method != .get {
                // The audit log is the record; this line is for the operator watching the journal.
                dependencies.logger.info("admin action", metadata: [
                    "operation": "\(route.operation)", "actor": "\(principal.actor.name)", "origin": "\(call.origin)",
                    "status": "\(reply.status.code)"])
            }
            return reply.response()
        } catch {
            return errorReply(error, operation: route.operation).response()
        }
    }

    /// How a failed admin request is answered, by the API and the dashboard alike: the status,
    /// OpenAI's error type and code, and a message the caller may see.
    public struct Failure: Sendable {
        public var status: HTTPResponse.Status
        public var type: String
        public var code: String
        public var message: String
    }

    /// The one classification of admin failures. Anything unexpected, and any storage error, is
    /// logged here and reported without its details.
    public func failure(_ error: Error, operation: String) -> Failure {
        switch error {
        case let error as AccessError:
            switch error {
            case .signInRefused: return Failure(status: .unauthorized, type: "authentication_error", code: "sign_in_refused", message: error.description)
            case .unauthenticated: return Failure(status: .unauthorized, type: "authentication_error", code: "unauthenticated", message: error.description)
            case .forbidden: return Failure(status: .forbidden, type: "permission_error", code: "forbidden", message: error.description)
            }
        case let error as AirlockError:
            switch error {
            case .notFound: return Failure(status: .notFound, type: "invalid_request_error", code: "not_found", message: error.description)
            case .duplicate: return Failure(status: .conflict, type: "invalid_request_error", code: "conflict", message: error.description)
            case .invalidTransition, .parentRevoked:
                return Failure(status: .conflict, type: "invalid_request_error", code: "invalid_state", message: error.description)
            case .invalidName, .invalidArgument:
                return Failure(status: .badRequest, type: "invalid_request_error", code: "invalid_request", message: error.description)
            case .notInitialized, .storage: break
            }
        case let error as HTTPError where error.status == .contentTooLarge:
            return Failure(status: .contentTooLarge, type: "invalid_request_error", code: "body_too_large",
                           message: "the request body is larger than this operation accepts")
        default: break
        }
        dependencies.logger.error("admin request failed", metadata: ["operation": "\(operation)", "error": "\(error)"])
        return Failure(status: .internalServerError, type: "server_error", code: "internal_error",
                       message: "The request could not be completed; see the appliance log.")
    }

    /// A failure as an OpenAI-shaped error object.
    func errorReply(_ error: Error, operation: String) -> AdminReply {
        let failure = failure(error, operation: operation)
        let body = AdminErrorBody(error: .init(message: failure.message, type: failure.type, param: nil, code: failure.code))
        return (try? AdminReply.json(body, status: failure.status)) ?? AdminReply(status: failure.status, contentType: nil, body: ByteBuffer())
    }
}

/// `{"error":{"message","type","param","code"}}`, as on `/v1`.
struct AdminErrorBody: Encodable {
    struct Detail: Encodable {
        var message: String
        var type: String
        var param: String?
        var code: String

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(message, forKey: .message)
            try container.encode(type, forKey: .type)
            try container.encode(param, forKey: .param)
            try container.encode(code, forKey: .code)
        }

        enum CodingKeys: String, CodingKey { case message, type, param, code }
    }

    var error: Detail
}
