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

        public init(actions: AdminActions, ledger: LedgerAudit, sessions: SessionStore, credential: LocalAdminCredential,
                    liveNodes: @escaping @Sendable () -> LiveNodesSnapshot?, license: @escaping @Sendable () -> LicenseStatus?,
                    clock: WallClock = .system, logger: Logger, licenseState: LicenseState? = nil,
                    licenseChanged: @escaping @Sendable () async -> Void = {}) {
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
        sessionRoutes + tenancyRoutes + infrastructureRoutes + usageAndAuditRoutes + userRoutes
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
            } catch {
                throw HTTPError(.contentTooLarge)
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

    /// Every failure as an OpenAI-shaped error object with the status it deserves; anything
    /// unexpected is logged here and reported without its details.
    func errorReply(_ error: Error, operation: String) -> AdminReply {
        let (status, type, code, message): (HTTPResponse.Status, String, String, String)
        switch error {
        case let error as AccessError:
            switch error {
            case .signInRefused: (status, type, code) = (.unauthorized, "authentication_error", "sign_in_refused")
            case .unauthenticated: (status, type, code) = (.unauthorized, "authentication_error", "unauthenticated")
            case .forbidden: (status, type, code) = (.forbidden, "permission_error", "forbidden")
            }
            message = error.description
        case let error as AirlockError:
            switch error {
            case .notFound: (status, type, code) = (.notFound, "invalid_request_error", "not_found")
            case .duplicate: (status, type, code) = (.conflict, "invalid_request_error", "conflict")
            case .invalidTransition, .parentRevoked: (status, type, code) = (.conflict, "invalid_request_error", "invalid_state")
            case .invalidName, .invalidArgument: (status, type, code) = (.badRequest, "invalid_request_error", "invalid_request")
            case .notInitialized, .storage:
                dependencies.logger.error("admin request failed", metadata: ["operation": "\(operation)", "error": "\(error)"])
                (status, type, code) = (.internalServerError, "server_error", "internal_error")
            }
            message = status == .internalServerError ? "The request could not be completed; see the appliance log." : error.description
        case let error as HTTPError where error.status == .contentTooLarge:
            (status, type, code, message) = (.contentTooLarge, "invalid_request_error", "body_too_large",
                                             "the request body is larger than this operation accepts")
        default:
            dependencies.logger.error("admin request failed", metadata: ["operation": "\(operation)", "error": "\(error)"])
            (status, type, code, message) = (.internalServerError, "server_error", "internal_error",
                                             "The request could not be completed; see the appliance log.")
        }
        let body = AdminErrorBody(error: .init(message: message, type: type, param: nil, code: code))
        return (try? AdminReply.json(body, status: status)) ?? AdminReply(status: status, contentType: nil, body: ByteBuffer())
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
