import AirlockAdmin
import AirlockAdminAPI
import AirlockCore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Testing

/// Every route in `AdminAPI.routes` × every role in `AdminRole.allCases` (and the local admin
/// credential): a role the policy denies gets 403 `forbidden` and exactly one `access.denied`
/// audit row (so nothing else happened); a role it allows gets the answer a plausible request
/// deserves. A new route whose path parameter or request this test cannot make fails here until
/// it is added below.
@Suite struct RoleMatrixTests {
    /// Who is asking in one run of the matrix.
    enum Caller: Sendable, CustomTestStringConvertible {
        case user(AdminRole)
        case localAdmin

        var role: AdminRole {
            switch self {
            case let .user(role): role
            case .localAdmin: .admin
            }
        }

        /// Unique per caller, for the names of things a run creates.
        var tag: String {
            switch self {
            case let .user(role): role.rawValue
            case .localAdmin: "local"
            }
        }

        var testDescription: String { tag }
    }

    /// What a plausible request to a route is and what it should get when the role may make it.
    struct Plan {
        var body: String?
        var query = ""
        /// nil: any 2xx.
        var status: Int?
    }

    struct UnfillableParameter: Error, CustomStringConvertible {
        var route: String
        var parameter: String
        var description: String {
            "route \(route) has path parameter {\(parameter)} that RoleMatrixTests cannot fill: add it to RoleMatrixTests.path(_:_:)"
        }
    }

    struct UnplannedRoute: Error, CustomStringConvertible {
        var route: String
        var description: String { "route \(route) has no plausible request in RoleMatrixTests.plan(_:for:): add one" }
    }

    static func describe(_ route: AdminRoute) -> String { "\(route.method.rawValue) \(route.path)" }

    /// The route's path with every parameter filled from the seed: acme's objects, so an
    /// org-admin (of acme) is in scope; the throwaway user; the enrolled node.
    static func path(_ route: AdminRoute, _ seed: AdminAPIFixture.Seed) throws -> String {
        try route.path.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
            guard segment.hasPrefix("{"), segment.hasSuffix("}") else { return String(segment) }
            switch segment.dropFirst().dropLast() {
            case "org": return seed.acme.id.rawValue
            case "env": return seed.acmeEnv.id.rawValue
            case "key": return seed.acmeKey
            case "user": return AdminAPIFixture.throwawayUser
            case "node": return seed.node
            case let other: throw UnfillableParameter(route: describe(route), parameter: String(other))
            }
        }.joined(separator: "/")
    }

    /// A plausible request for `route` by `caller`, and the status it should get when allowed.
    static func plan(_ route: AdminRoute, for caller: Caller) throws -> Plan {
        let tag = caller.tag
        let json = AdminClient.json
        switch (route.method, route.path) {
        case (.post, "/admin/v1/sessions"):
            let name = AdminAPIFixture.userNames[caller.role]!
            return Plan(body: json(["name": name, "password": AdminAPIFixture.password(for: name)]), status: 201)
        case (.delete, "/admin/v1/sessions/current"): return Plan(status: 204)
        case (.get, "/admin/v1/me"): return Plan()
        case (.post, "/admin/v1/me/password"):
            // The right current password and a too-short new one: the whole check runs, nothing changes
            // (the local admin credential has no password at all).
            let name = AdminAPIFixture.userNames[caller.role]!
            return Plan(body: json(["current_password": AdminAPIFixture.password(for: name), "new_password": "short"]), status: 400)
        case (.get, "/admin/v1/orgs"), (.get, "/admin/v1/orgs/{org}"), (.get, "/admin/v1/orgs/{org}/envs"),
             (.get, "/admin/v1/envs/{env}"), (.get, "/admin/v1/envs/{env}/keys"), (.get, "/admin/v1/keys/{key}"),
             (.get, "/admin/v1/orgs/{org}/limits"), (.get, "/admin/v1/envs/{env}/limits"), (.get, "/admin/v1/keys/{key}/limits"),
             (.get, "/admin/v1/reservations"), (.get, "/admin/v1/models"), (.get, "/admin/v1/nodes"),
             (.get, "/admin/v1/nodes/{node}"), (.get, "/admin/v1/license"), (.get, "/admin/v1/usage"), (.get, "/admin/v1/audit"),
             (.get, "/admin/v1/audit/verify"), (.get, "/admin/v1/ledger/verify"), (.get, "/admin/v1/users"),
             (.get, "/admin/v1/users/{user}"):
            return Plan()
        case (.post, "/admin/v1/orgs"): return Plan(body: json(["name": "org-by-\(tag)"]), status: 201)
        case (.post, "/admin/v1/orgs/{org}/suspend"), (.post, "/admin/v1/orgs/{org}/resume"), (.post, "/admin/v1/orgs/{org}/revoke"),
             (.post, "/admin/v1/envs/{env}/suspend"), (.post, "/admin/v1/envs/{env}/resume"), (.post, "/admin/v1/envs/{env}/revoke"),
             (.post, "/admin/v1/keys/{key}/suspend"), (.post, "/admin/v1/keys/{key}/resume"), (.post, "/admin/v1/keys/{key}/revoke"),
             (.post, "/admin/v1/nodes/{node}/drain"), (.post, "/admin/v1/nodes/{node}/resume"), (.post, "/admin/v1/nodes/{node}/reload"),
             (.post, "/admin/v1/nodes/{node}/revoke"), (.post, "/admin/v1/users/{user}/disable"), (.post, "/admin/v1/users/{user}/enable"):
            return Plan(status: 200)
        case (.post, "/admin/v1/orgs/{org}/envs"): return Plan(body: json(["name": "env-by-\(tag)"]), status: 201)
        case (.post, "/admin/v1/envs/{env}/keys"):
            return Plan(body: json(["name": "key-by-\(tag)", "models": [AdminAPIFixture.model]]), status: 201)
        case (.post, "/admin/v1/keys/{key}/rotate"): return Plan(body: json(["grace_seconds": 30]), status: 200)
        case (.patch, "/admin/v1/orgs/{org}/limits"), (.patch, "/admin/v1/envs/{env}/limits"), (.patch, "/admin/v1/keys/{key}/limits"):
            return Plan(body: #"{"requests_per_minute":120,"concurrency":null}"#, status: 200)
        case (.put, "/admin/v1/orgs/{org}/reservations"):
            return Plan(body: json(["model": AdminAPIFixture.model, "capacity_units": 10]), status: 200)
        case (.post, "/admin/v1/models"): return Plan(body: json(["name": "model-by-\(tag)"]), status: 201)
        case (.delete, "/admin/v1/models"): return Plan(query: "?name=model-by-\(tag)", status: 200)
        case (.post, "/admin/v1/nodes"): return Plan(body: json(["name": "node-by-\(tag)"]), status: 201)
        case (.post, "/admin/v1/users"):
            return Plan(body: json(["name": "user-by-\(tag)", "role": "viewer", "password": "a long enough password"]), status: 201)
        case (.post, "/admin/v1/users/{user}/role"): return Plan(body: json(["role": "auditor"]), status: 200)
        case (.post, "/admin/v1/users/{user}/password"): return Plan(body: json(["password": "another long password"]), status: 200)
        case (.get, "/admin/v1/keys"): return Plan(query: "?limit=5")
        case (.post, "/admin/v1/keys/identify"):
            // A well-formed secret no key has: the lookup runs and answers "not found".
            return Plan(body: json(["secret": "not-a-key"]), status: 400)
        case (.patch, "/admin/v1/envs/{env}"): return Plan(body: #"{"zone":null}"#, status: 200)
        case (.get, "/admin/v1/upgrades"): return Plan()
        case (.get, "/admin/v1/prices"), (.get, "/admin/v1/usage/report"), (.get, "/admin/v1/guardrails"), (.get, "/admin/v1/usage/finops"):
            return Plan()
        case (.put, "/admin/v1/orgs/{org}/guardrail"): return Plan(body: json(["monthly_tokens": 1_000_000]), status: 200)
        case (.post, "/admin/v1/prices"):
            // Each caller allowed to add a version starts its own, later than the one before.
            let start = caller.tag == "local" ? "2099-02-01T00:00:00Z" : "2099-01-01T00:00:00Z"
            return Plan(body: #"{"effective_from":"\#(start)","table":{"currency":"EUR","models":{}}}"#, status: 201)
        // No node plane behind this fixture: the permission is checked, then nothing to roll out.
        case (.post, "/admin/v1/upgrades/agents"): return Plan(body: "{}", status: 400)
        case (.get, "/admin/v1/upgrades/agents"): return Plan(status: 404)
        // No counters behind this fixture either: the permission and the body are checked, then nothing to reconcile.
        case (.post, "/admin/v1/reconcile"): return Plan(body: #"{"repair":false}"#, status: 400)
        case (.post, "/admin/v1/license/request"), (.post, "/admin/v1/license/activation"):
            // Not a licence file: the whole check runs and refuses it; nothing is installed.
            return Plan(body: #"{"not":"a signed file"}"#, status: 400)
        default:
            throw UnplannedRoute(route: describe(route))
        }
    }

    /// The routes in the order the matrix sends them: as listed, except that what ends a thing
    /// (revoking, signing out) comes last — children before parents, signing out at the very end —
    /// so every earlier request still finds what it acts on alive.
    static var orderedRoutes: [AdminRoute] {
        let tail = ["revoke a key", "revoke an environment", "revoke an org", "revoke a node", "sign out"]
        let head = AdminAPI.routes.filter { !tail.contains($0.operation) }
        return head + tail.compactMap { operation in AdminAPI.routes.first { $0.operation == operation } }
    }

    // MARK: - The matrix

    @Test func everyRouteIsPlannedAndItsParametersFillable() throws {
        let fillable = ["org", "env", "key", "user", "node"]
        var seen = Set<String>()
        for route in AdminAPI.routes {
            #expect(seen.insert(Self.describe(route)).inserted, "route listed twice: \(Self.describe(route))")
            for name in route.path.split(separator: "/").filter({ $0.hasPrefix("{") }).map({ String($0.dropFirst().dropLast()) }) {
                #expect(fillable.contains(name), "\(UnfillableParameter(route: Self.describe(route), parameter: name))")
            }
            for caller in [Caller.user(.admin), .localAdmin] {
                #expect(throws: Never.self) { _ = try Self.plan(route, for: caller) }
            }
        }
        #expect(Self.orderedRoutes.count == AdminAPI.routes.count, "the tail names an operation that is no longer a route")
    }

    @Test(arguments: AdminRole.allCases.map(Caller.user) + [Caller.localAdmin])
    func everyRouteForEveryRole(caller: Caller) async throws {
        let fixture = try await AdminAPIFixture()
        let seed = fixture.seed
        try await fixture.withClient { client in
            let auth: Auth = switch caller {
            case let .user(role): try await client.signIn(as: role)
            case .localAdmin: client.bearer
            }
            for route in Self.orderedRoutes {
                let plan = try Self.plan(route, for: caller)
                let path = try Self.path(route, seed) + plan.query
                let what = "\(caller.tag): \(route.method.rawValue) \(path)"
                let auditBefore = try await fixture.auditTrail().count
                let response = try await client.send(route.method, path, json: plan.body, as: auth)

                switch route.access {
                case .open, .signedIn:
                    #expect(response.code != 401 && response.code != 403, "\(what) → \(response.code) \(response.text)")
                    Self.expectPlanned(plan, response, what)
                case let .permission(permission) where !AccessPolicy.allows(caller.role, permission):
                    #expect(response.status == .forbidden, "\(what) → \(response.code) \(response.text)")
                    #expect(response.errorCode == "forbidden", "\(what) → \(response.text)")
                    #expect(response.hasOpenAIErrorShape, "\(what) → \(response.text)")
                    // The denial, audited, and nothing else: the request changed nothing.
                    let after = try await fixture.auditTrail()
                    #expect(after.count == auditBefore + 1, "\(what): \(after.count - auditBefore) audit rows")
                    let denial = after.last
                    #expect(denial?.action == "access.denied", "\(what)")
                    #expect(denial?.actor == "user:\(AdminAPIFixture.userNames[caller.role]!)", "\(what)")
                    #expect(denial?.after?.contains(route.operation) == true, "\(what): \(denial?.after ?? "nil")")
                case .permission:
                    #expect(response.code != 401 && response.code != 403, "\(what) → \(response.code) \(response.text)")
                    Self.expectPlanned(plan, response, what)
                }
            }
        }
    }

    static func expectPlanned(_ plan: Plan, _ response: APIResponse, _ what: String) {
        if let status = plan.status {
            #expect(response.code == status, "\(what) → \(response.code) \(response.text)")
        } else {
            #expect((200..<300).contains(response.code), "\(what) → \(response.code) \(response.text)")
        }
        #expect(response.code < 500, "\(what) → \(response.code) \(response.text)")
        if response.code >= 400 { #expect(response.hasOpenAIErrorShape, "\(what) → \(response.text)") }
        #expect(response.headers[.cacheControl] == "no-store", "\(what): Cache-Control \(response.headers[.cacheControl] ?? "none")")
    }

    /// No cookie and no bearer, an unknown session, a wrong bearer token, another scheme: every
    /// route but signing in answers 401 `unauthenticated`, and nothing is written.
    @Test func everyNonOpenRouteNeedsAuthentication() async throws {
        let fixture = try await AdminAPIFixture()
        let seed = fixture.seed
        try await fixture.withClient { client in
            let auditBefore = try await fixture.auditTrail().count
            let attempts: [(String, Auth)] = [
                ("nothing", .anonymous),
                ("unknown session", .session(cookie: "not-a-session", csrf: "not-a-token")),
                ("wrong bearer", .bearer("alk_admin_" + String(repeating: "x", count: 43))),
            ]
            for route in AdminAPI.routes where route.access != .open {
                let plan = try Self.plan(route, for: .user(.admin))
                let path = try Self.path(route, seed) + plan.query
                for (label, auth) in attempts {
                    let response = try await client.send(route.method, path, json: plan.body, as: auth)
                    #expect(response.status == .unauthorized, "\(label): \(route.method.rawValue) \(path) → \(response.code) \(response.text)")
                    #expect(response.errorCode == "unauthenticated", "\(label): \(route.method.rawValue) \(path) → \(response.text)")
                    #expect(response.hasOpenAIErrorShape, "\(response.text)")
                }
                // Another scheme in Authorization is not a session either.
                var headers = HTTPFields()
                headers[.authorization] = "Basic cm9vdDpwYXNzd29yZA=="
                let basic = try await client.client.execute(uri: path, method: route.method, headers: headers, body: nil)
                #expect(basic.status == .unauthorized, "Basic: \(route.method.rawValue) \(path) → \(basic.status)")
            }
            #expect(try await fixture.auditTrail().count == auditBefore, "an unauthenticated request wrote an audit row")
            #expect(try await fixture.actions.listOrgs().count == 2)
        }
    }

    /// A cookie session's state-changing request without its CSRF token is refused on every
    /// route, before the handler runs; a GET needs none.
    @Test func everyMutatingRouteNeedsTheCSRFTokenWithACookie() async throws {
        let fixture = try await AdminAPIFixture()
        let seed = fixture.seed
        try await fixture.withClient { client in
            let session = try await client.signIn(as: .admin)
            for route in AdminAPI.routes where route.access != .open {
                let plan = try Self.plan(route, for: .user(.admin))
                let path = try Self.path(route, seed) + plan.query
                let what = "\(route.method.rawValue) \(path)"
                if route.method == .get {
                    let response = try await client.send(route.method, path, as: session.withCSRF(nil))
                    #expect(response.code != 401 && response.code != 403, "\(what) → \(response.code) \(response.text)")
                    continue
                }
                let before = try await fixture.auditTrail().count
                for csrf in [nil, "wrong-token"] as [String?] {
                    let response = try await client.send(route.method, path, json: plan.body, as: session.withCSRF(csrf))
                    #expect(response.status == .forbidden, "\(what) with CSRF \(csrf ?? "none") → \(response.code) \(response.text)")
                    #expect(response.errorCode == "forbidden")
                }
                let after = try await fixture.auditTrail()
                #expect(after.count == before + 2 && after.suffix(2).allSatisfy { $0.action == "access.denied" }, "\(what)")
            }
            // The session survived all of that.
            #expect(try await client.send(.get, "/admin/v1/me", as: session).status == .ok)
        }
    }
}
