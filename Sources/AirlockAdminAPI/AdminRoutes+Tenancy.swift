import AirlockAdmin
import AirlockCore
import AirlockStore
import Foundation

/// Orgs, environments, keys, limits and reservations. An org-admin reaches only their own org's
/// (`requireScope`); every change goes through `AdminActions`, which audits it.
extension AdminAPI {
    static var tenancyRoutes: [AdminRoute] {
        let read = AdminRoute.Access.permission(.readTenancy)
        let manage = AdminRoute.Access.permission(.manageTenancy)
        let orgs = AdminRoute.Access.permission(.manageOrgs)
        return [
            AdminRoute(.get, "/admin/v1/orgs", read, "list orgs") { api, call in
                let visible = try await api.actions.listOrgs().filter { call.principal.sees(org: $0.id) }
                return try .json(AdminPage.of(visible, id: \.id.rawValue, call: call))
            },
            AdminRoute(.post, "/admin/v1/orgs", orgs, "create an org") { api, call in
                let body = try call.json(allowing: ["name"])
                return try .json(try await api.actions.createOrg(name: try body.requiredString("name"), by: call.principal.actor), status: .created)
            },
            AdminRoute(.get, "/admin/v1/orgs/{org}", read, "read an org") { api, call in try .json(try await api.scopedOrg(call)) },
            AdminRoute(.post, "/admin/v1/orgs/{org}/suspend", orgs, "suspend an org") { api, call in
                try .json(try await api.actions.suspendOrg(call.parameter("org"), by: call.principal.actor))
            },
            AdminRoute(.post, "/admin/v1/orgs/{org}/resume", orgs, "resume an org") { api, call in
                try .json(try await api.actions.resumeOrg(call.parameter("org"), by: call.principal.actor))
            },
            AdminRoute(.post, "/admin/v1/orgs/{org}/revoke", orgs, "revoke an org") { api, call in
                try .json(try await api.actions.revokeOrg(call.parameter("org"), by: call.principal.actor))
            },
            AdminRoute(.get, "/admin/v1/orgs/{org}/envs", read, "list an org's environments") { api, call in
                let org = try await api.scopedOrg(call)
                return try .json(AdminPage.of(try await api.actions.listEnvironments(org: org.id.rawValue), id: \.id.rawValue, call: call))
            },
            AdminRoute(.post, "/admin/v1/orgs/{org}/envs", manage, "create an environment") { api, call in
                let org = try await api.scopedOrg(call)
                let body = try call.json(allowing: ["name", "zone"])
                let env = try await api.actions.createEnvironment(org: org.id.rawValue, name: try body.requiredString("name"),
                                                                  zone: try body.string("zone"), by: call.principal.actor)
                return try .json(env, status: .created)
            },
            AdminRoute(.get, "/admin/v1/envs/{env}", read, "read an environment") { api, call in try .json(try await api.scopedEnv(call)) },
            AdminRoute(.patch, "/admin/v1/envs/{env}", manage, "change an environment's zone") { api, call in
                let env = try await api.scopedEnv(call)
                let body = try call.json(allowing: ["zone"])
                guard body.has("zone") else { throw AirlockError.invalidArgument("zone is required: a zone name, or null for the home zone") }
                return try .json(try await api.actions.setEnvironmentZone(env.id.rawValue, zone: try body.string("zone"), by: call.principal.actor))
            },
            AdminRoute(.post, "/admin/v1/envs/{env}/suspend", manage, "suspend an environment") { api, call in
                try .json(try await api.actions.suspendEnvironment(try await api.scopedEnv(call).id.rawValue, by: call.principal.actor))
            },
            AdminRoute(.post, "/admin/v1/envs/{env}/resume", manage, "resume an environment") { api, call in
                try .json(try await api.actions.resumeEnvironment(try await api.scopedEnv(call).id.rawValue, by: call.principal.actor))
            },
            AdminRoute(.post, "/admin/v1/envs/{env}/revoke", manage, "revoke an environment") { api, call in
                try .json(try await api.actions.revokeEnvironment(try await api.scopedEnv(call).id.rawValue, by: call.principal.actor))
            },
            AdminRoute(.get, "/admin/v1/envs/{env}/keys", read, "list an environment's keys") { api, call in
                let env = try await api.scopedEnv(call)
                let keys = try await api.actions.listKeys(org: env.orgID.rawValue, env: env.id.rawValue).map(KeyView.init)
                return try .json(AdminPage.of(keys, id: \.id, call: call))
            },
            AdminRoute(.post, "/admin/v1/envs/{env}/keys", manage, "create a key") { api, call in
                let env = try await api.scopedEnv(call)
                let body = try call.json(allowing: ["name", "models", "expires", "expires_at"])
                guard !(body.has("expires") && body.has("expires_at")) else {
                    throw AirlockError.invalidArgument("give expires or expires_at, not both")
                }
                let expires = try body.string("expires").map { try AdminInput.expiry($0, now: api.dependencies.clock.now()) }
                    ?? body.integer("expires_at").map { UnixMillis(Int64($0)) }
                let issued = try await api.actions.createKey(
                    org: env.orgID.rawValue, env: env.id.rawValue, name: try body.string("name"), expiresAt: expires,
                    allowedModels: try body.strings("models"), by: call.principal.actor)
                return try .json(issued, status: .created)
            },
            AdminRoute(.get, "/admin/v1/keys", read, "list keys") { api, call in
                // An org-admin's listing is their org's, whatever they ask.
                var org = call.query("org")
                if let own = call.principal.orgID { org = own.rawValue }
                else if let requested = org { org = try await api.scopedOrg(requested, for: call.principal).id.rawValue }
                let keys = try await api.actions.listKeys(org: org, env: nil).filter { call.principal.sees(org: $0.key.orgID) }
                return try .json(AdminPage.of(keys.map(KeyView.init), id: \.id, call: call))
            },
            // The secret travels in the body, never in a URL that logs and histories keep.
            AdminRoute(.post, "/admin/v1/keys/identify", read, "identify a key by its secret") { api, call in
                let body = try call.json(allowing: ["secret"])
                let details = try await api.actions.identifyKey(secret: try body.requiredString("secret"))
                try await api.requireScope(details.key.orgID, call.principal, kind: "key", reference: details.displayPrefix.map { $0 + "…" } ?? "?")
                return try .json(KeyView(details))
            },
            AdminRoute(.get, "/admin/v1/keys/{key}", read, "read a key") { api, call in try .json(KeyView(try await api.scopedKey(call))) },
            AdminRoute(.post, "/admin/v1/keys/{key}/rotate", manage, "rotate a key") { api, call in
                let key = try await api.scopedKey(call)
                let body = try call.json(allowing: ["grace_seconds"])
                return try .json(try await api.actions.rotateKey(key.key.id.rawValue, graceSeconds: try body.integer("grace_seconds"),
                                                                  by: call.principal.actor))
            },
            AdminRoute(.post, "/admin/v1/keys/{key}/suspend", manage, "suspend a key") { api, call in
                try .json(try await api.actions.suspendKey(try await api.scopedKey(call).key.id.rawValue, by: call.principal.actor))
            },
            AdminRoute(.post, "/admin/v1/keys/{key}/resume", manage, "resume a key") { api, call in
                try .json(try await api.actions.resumeKey(try await api.scopedKey(call).key.id.rawValue, by: call.principal.actor))
            },
            AdminRoute(.post, "/admin/v1/keys/{key}/revoke", manage, "revoke a key") { api, call in
                try .json(try await api.actions.revokeKey(try await api.scopedKey(call).key.id.rawValue, by: call.principal.actor))
            },
            AdminRoute(.get, "/admin/v1/orgs/{org}/limits", read, "read an org's limits") { api, call in
                try .json(try await api.actions.limits(.org(try await api.scopedOrg(call).id.rawValue)))
            },
            AdminRoute(.patch, "/admin/v1/orgs/{org}/limits", orgs, "change an org's limits") { api, call in
                try await api.setLimits(.org(try await api.scopedOrg(call).id.rawValue), call)
            },
            AdminRoute(.get, "/admin/v1/envs/{env}/limits", read, "read an environment's limits") { api, call in
                try .json(try await api.actions.limits(.env(try await api.scopedEnv(call).id.rawValue)))
            },
            AdminRoute(.patch, "/admin/v1/envs/{env}/limits", manage, "change an environment's limits") { api, call in
                try await api.setLimits(.env(try await api.scopedEnv(call).id.rawValue), call)
            },
            AdminRoute(.get, "/admin/v1/keys/{key}/limits", read, "read a key's limits") { api, call in
                try .json(try await api.actions.limits(.key(try await api.scopedKey(call).key.id.rawValue)))
            },
            AdminRoute(.patch, "/admin/v1/keys/{key}/limits", manage, "change a key's limits") { api, call in
                try await api.setLimits(.key(try await api.scopedKey(call).key.id.rawValue), call)
            },
            AdminRoute(.get, "/admin/v1/reservations", read, "list reservations") { api, call in
                let visible = try await api.actions.listReservations().filter { call.principal.sees(org: $0.orgID) }
                return try .json(AdminPage.of(visible, id: { "\($0.orgID.rawValue)/\($0.model)" }, call: call))
            },
            AdminRoute(.put, "/admin/v1/orgs/{org}/reservations", orgs, "set or clear a reservation") { api, call in
                let org = try await api.scopedOrg(call)
                let body = try call.json(allowing: ["model", "capacity_units"])
                let reservation = try await api.actions.setReservation(
                    org: org.id.rawValue, model: try body.requiredString("model"), capacityUnits: try body.integer("capacity_units"),
                    by: call.principal.actor)
                return reservation.map { try? AdminReply.json($0) }.flatMap { $0 } ?? .noContent
            },
        ]
    }

    /// A key as listed: its policy and credential prefixes (never a secret or a hash).
    struct KeyView: Encodable, Sendable {
        var id: String
        var key: APIKey
        var credentials: [CredentialSummary]

        init(_ details: KeyDetails) {
            id = details.key.id.rawValue
            key = details.key
            credentials = details.credentials
        }
    }

    func scopedOrg(_ call: AdminCall) async throws -> Org { try await scopedOrg(call.parameter("org"), for: call.principal) }
    func scopedEnv(_ call: AdminCall) async throws -> Environment { try await scopedEnv(call.parameter("env"), for: call.principal) }
    func scopedKey(_ call: AdminCall) async throws -> KeyDetails { try await scopedKey(call.parameter("key"), for: call.principal) }

    /// An org within `principal`'s reach, else "not found" (audited).
    public func scopedOrg(_ reference: String, for principal: AdminPrincipal) async throws -> Org {
        let org = try await actions.org(reference)
        try await requireScope(org.id, principal, kind: "org", reference: reference)
        return org
    }

    public func scopedEnv(_ reference: String, for principal: AdminPrincipal) async throws -> Environment {
        let env = try await actions.environment(reference)
        try await requireScope(env.orgID, principal, kind: "env", reference: reference)
        return env
    }

    public func scopedKey(_ reference: String, for principal: AdminPrincipal) async throws -> KeyDetails {
        let key = try await actions.key(reference)
        try await requireScope(key.key.orgID, principal, kind: "key", reference: reference)
        return key
    }

    /// `PATCH …/limits`: each field a whole number to set it, or null to go back to the default.
    private func setLimits(_ target: LimitTarget, _ call: AdminCall) async throws -> AdminReply {
        let body = try call.json(allowing: Set(LimitChanges.fields.map(\.name)))
        var changes = LimitChanges()
        for field in LimitChanges.fields {
            changes[keyPath: field.change] = body.isNull(field.name) ? .inherit : try body.integer(field.name).map { .set($0) } ?? .keep
        }
        return try .json(try await actions.setLimits(target, changes, by: call.principal.actor))
    }
}
