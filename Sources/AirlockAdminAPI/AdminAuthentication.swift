import AirlockAdmin
import AirlockCore
import Foundation
import HTTPTypes
import Hummingbird

/// Who a request comes from: the session cookie or the local admin credential. Shared by the
/// admin API and the dashboard.
public struct Authenticated: Sendable {
    public var principal: AdminPrincipal
    /// The session, when signed in through the browser (nil for the bearer credential).
    public var session: SessionStore.Session?
}

extension AdminAPI {
    /// Authenticates `request`. For a cookie session and a state-changing request, the CSRF token
    /// must come too — in `X-CSRF-Token`, or as `csrfFormToken` from a dashboard form. The user is
    /// read again on every request, so disabling a user or changing their role takes effect at once.
    public func authenticate(_ request: Request, mutating: Bool, csrfFormToken: String? = nil) async throws -> Authenticated {
        if let authorization = request.headers[.authorization] {
            // The scheme name is case-insensitive (RFC 9110 § 11.1).
            guard authorization.lowercased().hasPrefix("bearer "), dependencies.credential.matches(String(authorization.dropFirst(7))) else {
                throw AccessError.unauthenticated("the bearer token is not this appliance's admin credential")
            }
            return Authenticated(principal: AdminPrincipal(actor: Self.localActor(request), role: .admin), session: nil)
        }
        guard let token = request.cookies[Self.sessionCookie]?.value else {
            throw AccessError.unauthenticated("sign in first: no session")
        }
        let session: SessionStore.Session
        switch dependencies.sessions.lookup(token, now: dependencies.clock.now()) {
        case let .live(live): session = live
        case let .expired(expired):
            try? await actions.auditSignOut(expired.userName, reason: "session expired", origin: "-")
            throw AccessError.unauthenticated("your session has expired; sign in again")
        case .unknown:
            throw AccessError.unauthenticated("sign in first: the session is not known (expired, signed out, or the appliance restarted)")
        }
        guard let user = try? await actions.user(session.userName), user.status == .active else {
            dependencies.sessions.close(token)
            throw AccessError.unauthenticated("your account is no longer active")
        }
        // A password set since this session began — from the CLI too, which cannot reach the
        // daemon's sessions — ends it: that is what an operator does about a leaked password.
        guard user.passwordChangedAt <= session.createdAt else {
            dependencies.sessions.close(token)
            throw AccessError.unauthenticated("your password was changed; sign in again")
        }
        let principal = AdminPrincipal(user: user)
        if mutating {
            let presented = csrfFormToken ?? request.headers[.init("X-CSRF-Token")!] ?? ""
            guard constantTimeEquals(presented, session.csrfToken) else {
                try? await actions.auditAccessDenied(principal, action: "csrf_check", target: request.uri.path)
                throw AccessError.forbidden("missing or wrong CSRF token: send the session's csrf_token in X-CSRF-Token")
            }
        }
        return Authenticated(principal: principal, session: session)
    }

    /// The local credential's actor: `local-admin`, or the `airlock` CLI's own actor (`cli:<unix
    /// user>…`, sent in `X-Airlock-Actor`) so that an action is audited the same whether the CLI
    /// ran it on the data directory or through the daemon. Only the credential's holder — who can
    /// read the data directory, and so could run the CLI there — can make that claim.
    static func localActor(_ request: Request) -> AdminActor {
        guard let claim = request.headers[actorHeader], claim.hasPrefix("cli:"), claim.utf8.count <= 200,
              claim.unicodeScalars.allSatisfy({ $0.properties.generalCategory != .control })
        else { return AdminActor(LocalAdminCredential.actor) }
        return AdminActor(claim)
    }

    public static let actorHeader = HTTPField.Name("X-Airlock-Actor")!

    /// Refuses, as "not found" and audited, a request for an org outside the principal's reach —
    /// so an org-admin cannot even learn which other orgs exist.
    func requireScope(_ org: OrgID, _ principal: AdminPrincipal, kind: String, reference: String) async throws {
        guard principal.sees(org: org) else {
            try? await actions.auditAccessDenied(principal, action: "reach \(kind)", target: "\(kind):\(reference.controlCharactersReplaced.clipped(to: 80))")
            throw AirlockError.notFound(kind: kind, reference: reference)
        }
    }
}
