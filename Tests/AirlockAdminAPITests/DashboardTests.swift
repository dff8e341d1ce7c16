import AirlockAdmin
import AirlockAdminAPI
import AirlockCore
import AirlockDashboard
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The dashboard's pages against what a browser, a curious user and a hostile site send: roles,
/// CSRF on every form, escaping, the security headers, and a page per role.
@Suite struct DashboardTests {
    /// The API and the dashboard on one router, as in the daemon.
    func withDashboard(_ fixture: AdminAPIFixture, _ body: @escaping @Sendable (AdminClient) async throws -> Void) async throws {
        let router = Router<BasicRequestContext>()
        fixture.api.add(to: router)
        Dashboard(api: fixture.api, traffic: { RecentTraffic(seconds: 300, served: 30, refused: 3, failed: 1) }).add(to: router)
        try await Application(router: router).test(.router) { client in
            try await body(AdminClient(client: client, fixture: fixture))
        }
    }

    func form(_ client: AdminClient, _ path: String, _ fields: [String: String], as auth: Auth) async throws -> APIResponse {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if case let .session(cookie, _) = auth { headers[.cookie] = "\(AdminAPI.sessionCookie)=\(cookie)" }
        let body = fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        let response = try await client.client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body))
        return APIResponse(status: response.status, headers: response.headers, text: String(buffer: response.body))
    }

    func csrf(_ auth: Auth) -> String {
        if case let .session(_, token) = auth { return token ?? "" }
        return ""
    }

    @Test func everyPageSendsTheSecurityHeadersAndNoScript() async throws {
        let f = try await AdminAPIFixture()
        try await withDashboard(f) { client in
            let admin = try await client.signIn(as: .admin)
            for path in ["/", "/usage", "/chargeback", "/chargeback.csv", "/tenants", "/tenants/\(f.seed.acme.id.rawValue)", "/nodes", "/models", "/license", "/upgrades", "/audit", "/users",
                         "/limits/env/\(f.seed.acmeEnv.id.rawValue)", "/login"] {
                let page = try await client.send(.get, path, as: admin)
                #expect(page.status == .ok, "\(path) → \(page.code)")
                let policy = page.headers[.contentSecurityPolicy] ?? ""
                #expect(policy.contains("default-src 'self'") && policy.contains("script-src 'none'"), "\(path): \(policy)")
                #expect(page.headers[.cacheControl] == "no-store", "\(path)")
                #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY", "\(path)")
                #expect(!page.text.lowercased().contains("<script"), "\(path) holds a script")
            }
        }
    }

    @Test func withoutASessionEveryPageSendsYouToSignIn() async throws {
        let f = try await AdminAPIFixture()
        try await withDashboard(f) { client in
            for path in ["/", "/tenants", "/audit", "/users"] {
                let page = try await client.send(.get, path, as: .anonymous)
                #expect(page.status == .seeOther && page.headers[.location] == "/login", "\(path) → \(page.code)")
            }
        }
    }

    @Test func aFormWithoutTheSessionsCSRFTokenChangesNothing() async throws {
        let f = try await AdminAPIFixture()
        try await withDashboard(f) { client in
            let admin = try await client.signIn(as: .admin)
            let before = try await f.actions.listOrgs().count
            let forged = try await form(client, "/tenants", ["name": "forged"], as: admin)
            #expect(forged.status == .forbidden)
            let wrong = try await form(client, "/tenants", ["name": "forged", "csrf": "guess"], as: admin)
            #expect(wrong.status == .forbidden)
            #expect(try await f.actions.listOrgs().count == before)
            #expect(try await f.audit("access.denied").count >= 2)
            let made = try await form(client, "/tenants", ["name": "made-here", "csrf": csrf(admin)], as: admin)
            #expect(made.status == .seeOther)
            #expect(try await f.actions.listOrgs().contains { $0.name == "made-here" })
        }
    }

    @Test func aViewerSeesButCannotChange() async throws {
        let f = try await AdminAPIFixture()
        try await withDashboard(f) { client in
            let viewer = try await client.signIn(as: .viewer)
            let tenants = try await client.send(.get, "/tenants", as: viewer)
            #expect(tenants.status == .ok && !tenants.text.contains("create-org"), "a viewer is offered the create form")
            let nav = try await client.send(.get, "/", as: viewer)
            #expect(!nav.text.contains("href=\"/users\"") && !nav.text.contains("href=\"/audit\""))
            let refused = try await form(client, "/tenants", ["name": "by-viewer", "csrf": csrf(viewer)], as: viewer)
            #expect(refused.status == .forbidden)
            #expect(try await client.send(.get, "/users", as: viewer).status == .forbidden)
            #expect(try await f.audit("access.denied").contains { $0.actor == "user:\(AdminAPIFixture.userNames[.viewer]!)" })
        }
    }

    @Test func theUpgradesPageShowsTheHistoryAndOffersNoRollOutWithoutANodePlane() async throws {
        let f = try await AdminAPIFixture()
        _ = try await f.store.write { tx in
            try tx.audit(AuditEntry(timestamp: .now(), actor: "cli:root", action: "upgrade.apply", targetType: "release", targetID: "0.9.1",
                                    before: #"{"release":"0.9.0"}"#, after: #"{"release":"0.9.1","<b>":"x"}"#))
        }
        try await withDashboard(f) { client in
            let page = try await client.send(.get, "/upgrades", as: try await client.signIn(as: .admin))
            #expect(page.status == .ok && page.text.contains("upgrade.apply") && page.text.contains("0.9.1"))
            #expect(page.text.contains("&lt;b&gt;") && !page.text.contains("<b>"), "audit text must be escaped")
            #expect(!page.text.contains("roll-out-agents"), "a roll-out is offered with nothing to roll out")
            let auditor = try await client.send(.get, "/upgrades", as: try await client.signIn(as: .auditor))
            #expect(auditor.status == .ok)
        }
    }

    @Test func anOrgAdminSeesOneOrg() async throws {
        let f = try await AdminAPIFixture()
        try await withDashboard(f) { client in
            let orgAdmin = try await client.signIn(as: .orgAdmin)
            let tenants = try await client.send(.get, "/tenants", as: orgAdmin)
            #expect(tenants.text.contains("acme") && !tenants.text.contains("globex"))
            let other = try await client.send(.get, "/tenants/\(f.seed.globex.id.rawValue)", as: orgAdmin)
            #expect(other.status == .notFound)
            let otherKey = try await form(client, "/keys/\(f.seed.globexKey)/revoke", ["csrf": csrf(orgAdmin)], as: orgAdmin)
            #expect(otherKey.status == .notFound)
            #expect(try await f.actions.key(f.seed.globexKey).key.status == .active)
        }
    }

    @Test func theChargebackPageShowsOnlyAnOrgAdminsOwnOrgAndRefusesBadPeriods() async throws {
        let f = try await AdminAPIFixture()
        _ = try await f.actions.setGuardrail(org: "globex", monthlySpend: nil, monthlyTokens: 1_000, onExceed: .refuse, by: AdminActor("test"))
        try await withDashboard(f) { client in
            let admin = try await client.signIn(as: .admin)
            let all = try await client.send(.get, "/chargeback?group_by=org,model", as: admin)
            #expect(all.status == .ok && all.text.contains("id=\"chargeback-head\"") && all.text.contains("ledger head"))
            #expect(all.text.contains("globex") && all.text.contains("1000 tokens"), "the monthly caps table")
            let orgAdmin = try await client.signIn(as: .orgAdmin)
            let own = try await client.send(.get, "/chargeback", as: orgAdmin)
            #expect(own.status == .ok && !own.text.contains("globex"))
            let reversed = try await client.send(.get, "/chargeback?from=2027-02-01&to=2027-01-01", as: admin)
            #expect(reversed.status == .badRequest)
            let unknown = try await client.send(.get, "/chargeback?group_by=customer", as: admin)
            #expect(unknown.status == .badRequest)
        }
    }

    @Test func markupInAModelNameIsShownAsText() async throws {
        let f = try await AdminAPIFixture()
        let hostile = "<script>alert(1)</script>"
        _ = try await f.actions.addModel(name: hostile, by: AdminAPIFixture.setupActor)
        try await withDashboard(f) { client in
            let admin = try await client.signIn(as: .admin)
            let page = try await client.send(.get, "/models", as: admin)
            #expect(!page.text.contains(hostile))
            #expect(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            let audit = try await client.send(.get, "/audit", as: admin)
            #expect(!audit.text.contains(hostile))
        }
    }

    @Test func aNewKeysSecretIsOnItsPageOnce() async throws {
        let f = try await AdminAPIFixture()
        try await withDashboard(f) { client in
            let admin = try await client.signIn(as: .admin)
            let made = try await form(client, "/envs/\(f.seed.acmeEnv.id.rawValue)/keys", ["name": "from-form", "csrf": csrf(admin)], as: admin)
            #expect(made.status == .ok)
            let secret = try #require(made.text.firstMatch(of: #/id="new-key-secret">([^<]+)</#)?.output.1)
            #expect(secret.hasPrefix("alk_"))
            let org = try await client.send(.get, "/tenants/\(f.seed.acme.id.rawValue)", as: admin)
            #expect(!org.text.contains(String(secret)), "the org page repeats the secret")
        }
    }

    @Test func limitsAreSetFromTheForm() async throws {
        let f = try await AdminAPIFixture()
        try await withDashboard(f) { client in
            let admin = try await client.signIn(as: .admin)
            let env = f.seed.acmeEnv.id.rawValue
            let set = try await form(client, "/limits/env/\(env)", ["concurrency": "4", "requests_per_minute": "", "csrf": csrf(admin)], as: admin)
            #expect(set.status == .seeOther)
            #expect(try await f.actions.limits(.env(env)).limits.concurrency == 4)
            let bad = try await form(client, "/limits/env/\(env)", ["concurrency": "lots", "csrf": csrf(admin)], as: admin)
            #expect(bad.status == .badRequest && bad.text.contains("positive integer"))
            let back = try await form(client, "/limits/env/\(env)", ["concurrency": "default", "csrf": csrf(admin)], as: admin)
            #expect(back.status == .seeOther)
            #expect(try await f.actions.limits(.env(env)).limits.concurrency == nil)
        }
    }

    @Test func theOverviewShowsRatesAndTheUsageChartIsSVG() async throws {
        let f = try await AdminAPIFixture()
        try await withDashboard(f) { client in
            let admin = try await client.signIn(as: .admin)
            let overview = try await client.send(.get, "/", as: admin)
            #expect(overview.text.contains("id=\"req-rate\"") && overview.text.contains("0.11"))
            #expect(overview.text.contains("id=\"error-rate\"") && overview.text.contains("2.9 %"))
            let usage = try await client.send(.get, "/usage?bucket=minute&group_by=model", as: admin)
            #expect(usage.status == .ok && usage.text.contains("<svg id=\"usage-chart\""))
            let bad = try await client.send(.get, "/usage?bucket=fortnight", as: admin)
            #expect(bad.status == .badRequest)
        }
    }
}
