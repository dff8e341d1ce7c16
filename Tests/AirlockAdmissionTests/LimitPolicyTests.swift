import AirlockAdmin
import AirlockAdmission
import AirlockCore
import AirlockCounters
import AirlockIdentity
import AirlockStore
import AirlockTestSupport
import Testing

/// Limits changed through the admin layer reach admission on its next refresh, with no restart.
@Suite struct LimitPolicyTests {
    struct Appliance {
        let dir = TemporaryDirectory()
        let store: Store
        let admin: AdminActions
        let policy: LimitPolicy
        let admission: Admission
        let issued: IssuedKey
        let actor = AdminActor("test:admin")

        init() async throws {
            store = try Store(dataDirectory: dir.path)
            admin = AdminActions(store: store, hasher: try KeyHasher.loadOrCreate(dataDirectory: dir.path), rotationGraceSeconds: 0)
            var defaults = AirlockConfig().limits
            defaults.key = LimitSet(requestsPerMinute: 1_000)
            let policy = LimitPolicy(defaults: defaults, store: store)
            self.policy = policy
            admission = Admission(counters: try CounterStore(dataDirectory: dir.path), limits: { policy.limits(for: $0) })
            _ = try await admin.createOrg(name: "acme", by: actor)
            _ = try await admin.createEnvironment(org: "acme", name: "prod", by: actor)
            issued = try await admin.createKey(org: "acme", env: "prod", name: nil, expiresAt: nil, allowedModels: nil, by: actor)
        }

        func request(tokens: Int64 = 10) -> AdmissionRequest {
            AdmissionRequest(orgID: issued.key.orgID, envID: issued.key.envID, keyID: issued.key.id, model: "llama-3-8b",
                             promptTokens: tokens, maxTokens: 0, bodyBytes: 10)
        }

        func admitted() throws -> Bool {
            if case .admitted = try admission.admit(request()) { return true }
            return false
        }
    }

    @Test func aKeyOverrideAppliesAfterRefreshAndDefaultRestoresIt() async throws {
        let app = try await Appliance()
        try await app.policy.refresh()
        #expect(app.policy.limits(for: app.request()).key.requestsPerMinute == 1_000)
        var changes = LimitChanges()
        changes.requestsPerMinute = .set(2)
        _ = try await app.admin.setLimits(.key(app.issued.key.id.rawValue), changes, by: app.actor)
        try await app.policy.refresh()
        #expect(try app.admitted() && app.admitted() && !app.admitted())
        changes.requestsPerMinute = .inherit
        _ = try await app.admin.setLimits(.key(app.issued.key.id.rawValue), changes, by: app.actor)
        try await app.policy.refresh()
        #expect(try app.admitted())
    }

    @Test func orgAndEnvOverridesReplaceOnlyTheFieldsTheySet() async throws {
        let app = try await Appliance()
        var changes = LimitChanges()
        changes.tokensPerDay = .set(50_000)
        _ = try await app.admin.setLimits(.org("acme"), changes, by: app.actor)
        changes = LimitChanges()
        changes.concurrency = .set(3)
        _ = try await app.admin.setLimits(.env("acme/prod"), changes, by: app.actor)
        try await app.policy.refresh()
        let limits = app.policy.limits(for: app.request())
        #expect(limits.org.tokensPerDay == 50_000 && limits.org.requestsPerMinute == AirlockConfig().limits.org.requestsPerMinute)
        #expect(limits.env.concurrency == 3 && limits.env.tokensPerMinute == AirlockConfig().limits.env.tokensPerMinute)
    }

    @Test func aReservationMakesTheOrgsTrafficReserved() async throws {
        let app = try await Appliance()
        _ = try await app.admin.setReservation(org: "acme", model: "llama-3-8b", capacityUnits: 100, by: app.actor)
        try await app.policy.refresh()
        guard case let .admitted(ticket) = try app.admission.admit(app.request()) else { Issue.record("refused"); return }
        #expect(ticket.reserved)
    }

    @Test(arguments: [0, -1, 2_000_000])
    func absurdConcurrencyIsRefusedAndNothingIsAudited(value: Int) async throws {
        let app = try await Appliance()
        var changes = LimitChanges()
        changes.concurrency = .set(value)
        await #expect(throws: AirlockError.self) { try await app.admin.setLimits(.org("acme"), changes, by: app.actor) }
        let trail = try await LedgerAudit(store: app.store).auditTrail(targetID: nil, limit: 100)
        #expect(!trail.contains { $0.action == "limits.set" })
    }

    @Test func limitChangesAreAuditedWithBeforeAndAfter() async throws {
        let app = try await Appliance()
        var changes = LimitChanges()
        changes.tokensPerMinute = .set(9_000)
        _ = try await app.admin.setLimits(.env("acme/prod"), changes, by: app.actor)
        let entry = try #require(try await LedgerAudit(store: app.store).auditTrail(targetID: nil, limit: 1).first)
        #expect(entry.action == "limits.set" && entry.after?.contains("9000") == true && entry.before == "{}")
        await #expect(throws: AirlockError.self) {
            try await app.admin.setReservation(org: "acme", model: "bad model", capacityUnits: 5, by: app.actor)
        }
    }
}
