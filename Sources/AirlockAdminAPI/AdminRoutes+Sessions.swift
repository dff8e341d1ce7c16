import AirlockAdmin
import AirlockCore
import Foundation
import Hummingbird

/// Signing in and out, and who am I.
extension AdminAPI {
    static var sessionRoutes: [AdminRoute] { [
        AdminRoute(.post, "/admin/v1/sessions", .open, "sign in") { api, call in try await api.signIn(call) },
        AdminRoute(.delete, "/admin/v1/sessions/current", .signedIn, "sign out") { api, call in try await api.signOut(call) },
        AdminRoute(.get, "/admin/v1/me", .signedIn, "read the signed-in principal") { _, call in try .json(Me(call.principal)) },
        AdminRoute(.post, "/admin/v1/me/password", .signedIn, "change your own password") { api, call in
            try await api.changeOwnPassword(call)
        },
    ] }

    struct Me: Encodable, Sendable {
        var actor: String
        var role: AdminRole
        var orgId: OrgID?
        var permissions: [String]

        init(_ principal: AdminPrincipal) {
            actor = principal.actor.name
            role = principal.role
            orgId = principal.orgID
            permissions = AccessPolicy.permissions(of: principal.role).map(\.rawValue).sorted()
        }
    }

    struct SignedIn: Encodable, Sendable {
        var user: AdminUser
        var csrfToken: String
        var idleTimeoutSeconds: Int64
    }

    /// Signs a user in and returns the cookie (which scripts cannot read) and the CSRF token
    /// (which they must send back on every change).
    public func startSession(name: String, password: String, origin: String) async throws -> (user: AdminUser, cookie: Cookie, csrf: String) {
        let user = try await actions.signIn(name: name, password: password, from: origin)
        let (token, session) = dependencies.sessions.open(user: user.name, now: dependencies.clock.now())
        return (user, Self.cookie(token), session.csrfToken)
    }

    /// Ends the session `token` names, audited, and returns the cookie that clears it.
    public func endSession(token: String?, principal: AdminPrincipal) async -> Cookie {
        if let token { dependencies.sessions.close(token) }
        if principal.actor.name.hasPrefix("user:") {
            try? await actions.auditSignOut(String(principal.actor.name.dropFirst(5)), reason: "signed out", origin: "-")
        }
        return Self.cookie("", maxAge: 0)
    }

    /// Secure (HTTPS only), HttpOnly (no script reads it), SameSite=Strict (no other site's page
    /// can make the browser send it), whole-site path, no expiry: a browser session cookie.
    static func cookie(_ value: String, maxAge: Int? = nil) -> Cookie {
        Cookie(name: sessionCookie, value: value, maxAge: maxAge, path: "/", secure: true, httpOnly: true, sameSite: .strict)
    }

    private func signIn(_ call: AdminCall) async throws -> AdminReply {
        // JSON only: a browser can send a cross-site form as text/plain without asking, but not
        // application/json — so no other site can sign a browser in to an account of its choosing.
        guard call.contentType?.lowercased().hasPrefix("application/json") == true else {
            throw AirlockError.invalidArgument("sign in with a JSON body (Content-Type: application/json)")
        }
        let body = try call.json(allowing: ["name", "password"])
        let (user, cookie, csrf) = try await startSession(name: try body.requiredString("name"), password: try body.requiredString("password"),
                                                          origin: call.origin)
        var reply = try AdminReply.json(SignedIn(user: user, csrfToken: csrf, idleTimeoutSeconds: dependencies.sessions.idleSeconds),
                                        status: .created)
        reply.cookies = [cookie]
        return reply
    }

    private func signOut(_ call: AdminCall) async throws -> AdminReply {
        var reply = AdminReply.noContent
        reply.cookies = [await endSession(token: call.sessionToken, principal: call.principal)]
        return reply
    }

    private func changeOwnPassword(_ call: AdminCall) async throws -> AdminReply {
        guard call.principal.actor.name.hasPrefix("user:") else {
            throw AirlockError.invalidArgument("the local admin credential has no password; change a user's with POST /admin/v1/users/{user}/password")
        }
        let name = String(call.principal.actor.name.dropFirst(5))
        let body = try call.json(allowing: ["current_password", "new_password"])
        // Re-checked like a sign-in (and counted towards lockout), so a borrowed unlocked
        // browser is not enough to take the account over.
        _ = try await actions.signIn(name: name, password: try body.requiredString("current_password"), from: call.origin)
        let user = try await actions.setUserPassword(name, password: try body.requiredString("new_password"), by: call.principal.actor)
        dependencies.sessions.closeAll(user: name)
        return try .json(user)
    }
}
