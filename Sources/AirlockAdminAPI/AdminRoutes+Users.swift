import AirlockAdmin
import AirlockCore
import Foundation

/// Users and roles (admin only). A change to a user's role, status or password ends their
/// sessions, so it takes effect at once.
extension AdminAPI {
    static var userRoutes: [AdminRoute] {
        let manage = AdminRoute.Access.permission(.manageUsers)
        return [
            AdminRoute(.get, "/admin/v1/users", manage, "list users") { api, call in
                try .json(AdminPage.of(try await api.actions.listUsers(), id: \.name, call: call))
            },
            AdminRoute(.post, "/admin/v1/users", manage, "create a user") { api, call in
                let body = try call.json(allowing: ["name", "role", "org", "password"])
                let user = try await api.actions.createUser(
                    name: try body.requiredString("name"), role: try Self.role(body), org: try body.string("org"),
                    password: try body.requiredString("password"), by: call.principal.actor)
                return try .json(user, status: .created)
            },
            AdminRoute(.get, "/admin/v1/users/{user}", manage, "read a user") { api, call in
                try .json(try await api.actions.user(call.parameter("user")))
            },
            AdminRoute(.post, "/admin/v1/users/{user}/role", manage, "change a user's role") { api, call in
                let body = try call.json(allowing: ["role", "org"])
                let user = try await api.actions.setUserRole(call.parameter("user"), role: try Self.role(body), org: try body.string("org"),
                                                             by: call.principal.actor)
                api.dependencies.sessions.closeAll(user: user.name)
                return try .json(user)
            },
            AdminRoute(.post, "/admin/v1/users/{user}/disable", manage, "disable a user") { api, call in
                let user = try await api.actions.setUserStatus(call.parameter("user"), .disabled, by: call.principal.actor)
                api.dependencies.sessions.closeAll(user: user.name)
                return try .json(user)
            },
            AdminRoute(.post, "/admin/v1/users/{user}/enable", manage, "enable a user") { api, call in
                try .json(try await api.actions.setUserStatus(call.parameter("user"), .active, by: call.principal.actor))
            },
            AdminRoute(.post, "/admin/v1/users/{user}/password", manage, "set a user's password") { api, call in
                let body = try call.json(allowing: ["password"])
                let user = try await api.actions.setUserPassword(call.parameter("user"), password: try body.requiredString("password"),
                                                                 by: call.principal.actor)
                api.dependencies.sessions.closeAll(user: user.name)
                return try .json(user)
            },
        ]
    }

    private static func role(_ body: AdminBody) throws -> AdminRole {
        let text = try body.requiredString("role")
        guard let role = AdminRole(rawValue: text) else {
            throw AirlockError.invalidArgument("role must be one of \(AdminRole.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return role
    }
}
