import AirlockAdmin
import AirlockAdminAPI
import AirlockCore
import Foundation
import Hummingbird

/// Orgs, environments and keys: create, show a new secret once, rotate, suspend, revoke. Reads
/// and changes go through the same scoped look-ups as the API, so an org-admin sees one org.
extension Dashboard {
    static var tenantPages: [DashboardPage] { [
        DashboardPage(.get, "/tenants", .readTenancy) { dashboard, call in try await dashboard.tenants(call) },
        DashboardPage(.post, "/tenants", .manageOrgs) { dashboard, call in
            _ = try await dashboard.actions.createOrg(name: try call.form.required("name", label: "Org name"), by: call.principal.actor)
            return Dashboard.redirect("/tenants")
        },
        DashboardPage(.get, "/tenants/:org", .readTenancy) { dashboard, call in try await dashboard.org(call) },
        DashboardPage(.post, "/tenants/:org/envs", .manageTenancy) { dashboard, call in
            let org = try await dashboard.api.scopedOrg(call.parameter("org"), for: call.principal)
            _ = try await dashboard.actions.createEnvironment(org: org.id.rawValue, name: try call.form.required("name", label: "Environment name"),
                                                              zone: call.form.value("zone"), by: call.principal.actor)
            return Dashboard.redirect("/tenants/\(org.id.rawValue)")
        },
        DashboardPage(.post, "/envs/:env/keys", .manageTenancy) { dashboard, call in
            let env = try await dashboard.api.scopedEnv(call.parameter("env"), for: call.principal)
            let models = try call.form.value("models").map { try AdminInput.modelList($0) }
            let issued = try await dashboard.actions.createKey(org: env.orgID.rawValue, env: env.id.rawValue, name: call.form.value("name"),
                                                               expiresAt: nil, allowedModels: models, by: call.principal.actor)
            return dashboard.secretPage(call, issued, verb: "created")
        },
        DashboardPage(.post, "/keys/:key/rotate", .manageTenancy) { dashboard, call in
            let key = try await dashboard.api.scopedKey(call.parameter("key"), for: call.principal)
            return dashboard.secretPage(call, try await dashboard.actions.rotateKey(key.key.id.rawValue, by: call.principal.actor), verb: "rotated")
        },
        DashboardPage(.post, "/keys/:key/suspend", .manageTenancy) { dashboard, call in
            try await dashboard.keyStatus(call) { try await $0.suspendKey($1, by: $2) }
        },
        DashboardPage(.post, "/keys/:key/resume", .manageTenancy) { dashboard, call in
            try await dashboard.keyStatus(call) { try await $0.resumeKey($1, by: $2) }
        },
        DashboardPage(.post, "/keys/:key/revoke", .manageTenancy) { dashboard, call in
            try await dashboard.keyStatus(call) { try await $0.revokeKey($1, by: $2) }
        },
        DashboardPage(.post, "/tenants/:org/suspend", .manageOrgs) { dashboard, call in
            _ = try await dashboard.actions.suspendOrg(call.parameter("org"), by: call.principal.actor)
            return Dashboard.redirect("/tenants")
        },
        DashboardPage(.post, "/tenants/:org/resume", .manageOrgs) { dashboard, call in
            _ = try await dashboard.actions.resumeOrg(call.parameter("org"), by: call.principal.actor)
            return Dashboard.redirect("/tenants")
        },
        DashboardPage(.post, "/tenants/:org/revoke", .manageOrgs) { dashboard, call in
            _ = try await dashboard.actions.revokeOrg(call.parameter("org"), by: call.principal.actor)
            return Dashboard.redirect("/tenants")
        },
        DashboardPage(.post, "/envs/:env/suspend", .manageTenancy) { dashboard, call in
            try await dashboard.envStatus(call) { try await $0.suspendEnvironment($1, by: $2) }
        },
        DashboardPage(.post, "/envs/:env/resume", .manageTenancy) { dashboard, call in
            try await dashboard.envStatus(call) { try await $0.resumeEnvironment($1, by: $2) }
        },
        DashboardPage(.post, "/envs/:env/revoke", .manageTenancy) { dashboard, call in
            try await dashboard.envStatus(call) { try await $0.revokeEnvironment($1, by: $2) }
        },
    ] }

    private func tenants(_ call: PageCall) async throws -> Response {
        let orgs = try await actions.listOrgs().filter { call.principal.sees(org: $0.id) }
        let rows = orgs.map { org in
            [HTML.link("/tenants/\(org.id.rawValue)", org.name, cssClass: "org-link"), HTML.badge(org.status.rawValue),
             "<code>\(HTML.text(org.id.rawValue))</code>", HTML.text(org.createdAt.description),
             call.principal.may(.manageOrgs) && org.status != .revoked
                ? HTML.form(action: "/tenants/\(org.id.rawValue)/\(org.status == .active ? "suspend" : "resume")", csrf: call.csrf, "",
                            submit: org.status == .active ? "Suspend" : "Resume", danger: org.status == .active)
                  + HTML.form(action: "/tenants/\(org.id.rawValue)/revoke", csrf: call.csrf, "", submit: "Revoke", danger: true) : ""]
        }
        var body = HTML.table(id: "orgs", ["Org", "Status", "Id", "Created", ""], rows, empty: "No orgs yet.")
        if call.principal.may(.manageOrgs) {
            body += "<h2>New org</h2>" + HTML.form(action: "/tenants", csrf: call.csrf, id: "create-org",
                                                   HTML.input("name", label: "Name", required: true), submit: "Create org")
        }
        return call.page("Tenants", active: "/tenants", body)
    }

    private func org(_ call: PageCall) async throws -> Response {
        let org = try await api.scopedOrg(call.parameter("org"), for: call.principal)
        let envs = try await actions.listEnvironments(org: org.id.rawValue)
        let keys = try await actions.listKeys(org: org.id.rawValue, env: nil)
        let manage = call.principal.may(.manageTenancy)
        var body = "<p>Org <code>\(HTML.text(org.id.rawValue))</code> \(HTML.badge(org.status.rawValue)) · \(HTML.link("/limits/org/\(org.id.rawValue)", "Org limits"))</p>"
        for env in envs {
            body += "<h2 class=\"env\">\(HTML.text(env.name)) \(HTML.badge(env.status.rawValue))</h2>"
            body += "<p class=\"note\">Environment <code>\(HTML.text(env.id.rawValue))</code>, zone \(HTML.text(env.zone ?? "home")) · \(HTML.link("/limits/env/\(env.id.rawValue)", "Limits"))</p>"
            if manage, env.status != .revoked {
                body += HTML.form(action: "/envs/\(env.id.rawValue)/\(env.status == .active ? "suspend" : "resume")", csrf: call.csrf, "",
                                  submit: env.status == .active ? "Suspend environment" : "Resume environment")
                    + HTML.form(action: "/envs/\(env.id.rawValue)/revoke", csrf: call.csrf, "", submit: "Revoke environment", danger: true)
            }
            let rows = keys.filter { $0.key.envID == env.id }.map { details -> [String] in
                let key = details.key
                var buttons = ""
                if manage, key.status != .revoked {
                    buttons += HTML.form(action: "/keys/\(key.id.rawValue)/rotate", csrf: call.csrf, "", submit: "Rotate")
                    buttons += HTML.form(action: "/keys/\(key.id.rawValue)/\(key.status == .active ? "suspend" : "resume")", csrf: call.csrf, "",
                                         submit: key.status == .active ? "Suspend" : "Resume")
                    buttons += HTML.form(action: "/keys/\(key.id.rawValue)/revoke", csrf: call.csrf, "", submit: "Revoke", danger: true)
                }
                return [HTML.link("/limits/key/\(key.id.rawValue)", key.id.rawValue, cssClass: "key-link"), HTML.text(key.name ?? "-"), "<code>\(HTML.text(details.displayPrefix ?? "-"))…</code>",
                        HTML.badge(key.status.rawValue), HTML.text(key.allowedModels?.joined(separator: ", ") ?? "all"), buttons]
            }
            body += HTML.table(["Key", "Name", "Prefix", "Status", "Models", ""], rows, empty: "No keys in this environment.")
            if manage, env.status == .active {
                body += HTML.form(action: "/envs/\(env.id.rawValue)/keys", csrf: call.csrf, cssClass: "create-key",
                                  HTML.input("name", label: "Key name (optional)")
                                  + HTML.input("models", label: "Allowed models (comma-separated, blank = all)"), submit: "Create key")
            }
        }
        if envs.isEmpty { body += "<p class=\"empty\">No environments yet.</p>" }
        if manage, org.status == .active {
            body += "<h2>New environment</h2>" + HTML.form(action: "/tenants/\(org.id.rawValue)/envs", csrf: call.csrf, id: "create-env",
                                                           HTML.input("name", label: "Name", required: true), submit: "Create environment")
        }
        return call.page(org.name, active: "/tenants", body)
    }

    /// The one time a key's secret is shown. The page is never cached (see `secured`).
    private func secretPage(_ call: PageCall, _ issued: IssuedKey, verb: String) -> Response {
        let body = """
            <div class="secret"><p>Key <code>\(HTML.text(issued.key.id.rawValue))</code> \(HTML.text(verb)). Copy the secret now: \
            it is shown only this once, and Airlock keeps only a hash of it.</p>
            <p><code id="new-key-secret">\(HTML.text(issued.secret))</code></p></div>
            <p>\(HTML.link("/tenants/\(issued.key.orgID.rawValue)", "Back to the org"))</p>
            """
        return call.page("New API key", active: "/tenants", body)
    }

    private func envStatus(_ call: PageCall, _ change: (AdminActions, String, AdminActor) async throws -> AirlockCore.Environment) async throws -> Response {
        let env = try await api.scopedEnv(call.parameter("env"), for: call.principal)
        let changed = try await change(actions, env.id.rawValue, call.principal.actor)
        return Dashboard.redirect("/tenants/\(changed.orgID.rawValue)")
    }

    private func keyStatus(_ call: PageCall, _ change: (AdminActions, String, AdminActor) async throws -> APIKey) async throws -> Response {
        let key = try await api.scopedKey(call.parameter("key"), for: call.principal)
        let changed = try await change(actions, key.key.id.rawValue, call.principal.actor)
        return Dashboard.redirect("/tenants/\(changed.orgID.rawValue)")
    }
}
