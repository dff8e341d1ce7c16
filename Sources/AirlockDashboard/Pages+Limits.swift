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
            for (name, path) in Self.limitFields {
                guard let text = call.form.value(name) else { continue }
                changes[keyPath: path] = try LimitFieldChange.parse(text, field: name)
            }
            _ = try await dashboard.actions.setLimits(target, changes, by: call.principal.actor)
            return Dashboard.redirect(back)
        },
    ] }

    static var limitFields: [(String, WritableKeyPath<LimitChanges, LimitFieldChange>)] { [
        ("requests_per_minute", \.requestsPerMinute), ("tokens_per_minute", \.tokensPerMinute),
        ("tokens_per_second", \.tokensPerSecond), ("concurrency", \.concurrency), ("tokens_per_day", \.tokensPerDay),
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
        let values: [String: Int?] = [
            "requests_per_minute": current.limits.requestsPerMinute, "tokens_per_minute": current.limits.tokensPerMinute,
            "tokens_per_second": current.limits.tokensPerSecond, "concurrency": current.limits.concurrency,
            "tokens_per_day": current.limits.tokensPerDay,
        ]
        let rows = Self.limitFields.map { name, _ in [HTML.text(name), values[name].flatMap { $0 }.map { "\($0)" } ?? "default"] }
        var body = "<p>Limits of \(HTML.text(current.scope)) <code>\(HTML.text(current.id))</code>. \"default\" means the appliance's configured limit for this level.</p>"
        body += HTML.table(id: "limits", ["limit", "value"], rows)
        let mayChange = call.principal.may(.manageTenancy) && (current.scope != "org" || call.principal.may(.manageOrgs))
        if mayChange {
            let fields = Self.limitFields.map { name, _ in HTML.input(name, label: name, placeholder: "unchanged") }.joined()
            body += "<h2>Change</h2><p class=\"note\">A whole number sets a limit; <code>default</code> returns it to the configured default; blank leaves it.</p>"
                + HTML.form(action: "/limits/\(call.parameter("scope"))/\(current.id)", csrf: call.csrf, id: "set-limits", fields, submit: "Save limits")
        }
        return call.page("Limits", active: "/tenants", body)
    }
}
