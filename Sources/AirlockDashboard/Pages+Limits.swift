import AirlockAdmin
import AirlockAdminAPI
import AirlockCore
import Foundation
import Hummingbird

/// One tenant's limit override (org, environment or key): the five limits, each a number or
/// the configured default. Changing an org's limits is an appliance-wide decision (`manageOrgs`);
/// an org-admin sets their environments' and keys'.
extension Dashboard {
    static var limitPages: [DashboardPage] { [
        DashboardPage(.get, "/limits/:scope/:id", .readTenancy) { dashboard, call in try await dashboard.limits(call) },
        DashboardPage(.post, "/limits/:scope/:id", .manageTenancy) { dashboard, call in
            let (target, back) = try await dashboard.limitTarget(call)
            if case .org = target, !call.principal.may(.manageOrgs) {
                throw AccessError.forbidden("your role (\(call.principal.role.rawValue)) may not change an org's limits")
            }
            var changes = LimitChanges()
            for field in LimitChanges.fields {
                guard let text = call.form.value(field.name) else { continue }
                changes[keyPath: field.change] = try LimitFieldChange.parse(text, field: field.name)
            }
            _ = try await dashboard.actions.setLimits(target, changes, by: call.principal.actor)
            return Dashboard.redirect(back)
        },
    ] }

    /// The tenant a limits page is about, scope-checked, and the page to return to.
    private func limitTarget(_ call: PageCall) async throws -> (LimitTarget, String) {
        let id = call.parameter("id")
        switch call.parameter("scope") {
        case "org":
            let org = try await api.scopedOrg(id, for: call.principal)
            return (.org(org.id.rawValue), "/limits/org/\(org.id.rawValue)")
        case "env":
            let env = try await api.scopedEnv(id, for: call.principal)
            return (.env(env.id.rawValue), "/limits/env/\(env.id.rawValue)")
        case "key":
            let key = try await api.scopedKey(id, for: call.principal)
            return (.key(key.key.id.rawValue), "/limits/key/\(key.key.id.rawValue)")
        default:
            throw AirlockError.notFound(kind: "limit scope", reference: call.parameter("scope"))
        }
    }

    private func limits(_ call: PageCall) async throws -> Response {
        let (target, _) = try await limitTarget(call)
        let current = try await actions.limits(target)
        let rows = LimitChanges.fields.map { field in
            [HTML.text(field.name), current.limits[keyPath: field.value].map { "\($0)" } ?? "default"]
        }
        var body = "<p>Limits of \(HTML.text(current.scope)) <code>\(HTML.text(current.id))</code>. \"default\" means the appliance's configured limit for this level.</p>"
        body += HTML.table(id: "limits", ["limit", "value"], rows)
        let mayChange = call.principal.may(.manageTenancy) && (current.scope != "org" || call.principal.may(.manageOrgs))
        if mayChange {
            let fields = LimitChanges.fields.map { HTML.input($0.name, label: $0.name, placeholder: "unchanged") }.joined()
            body += "<h2>Change</h2><p class=\"note\">A whole number sets a limit; <code>default</code> returns it to the configured default; blank leaves it.</p>"
                + HTML.form(action: "/limits/\(call.parameter("scope"))/\(current.id)", csrf: call.csrf, id: "set-limits", fields, submit: "Save limits")
        }
        return call.page("Limits", active: "/tenants", body)
    }
}
