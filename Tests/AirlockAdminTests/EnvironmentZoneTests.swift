import AirlockAdmin
import AirlockCore
import AirlockIdentity
import AirlockStore
import AirlockTestSupport
import Testing

/// An environment's zone (seed 004 § 12): set at creation or later, audited, and carried to the
/// key identity that placement reads.
@Suite struct EnvironmentZoneTests {
    @Test func theZoneReachesTheKeysIdentityAndFollowsChanges() async throws {
        let f = try AdminFixture()
        _ = try await f.admin.createOrg(name: "acme", by: f.actor)
        let env = try await f.admin.createEnvironment(org: "acme", name: "prod", zone: "hall-b", by: f.actor)
        #expect(env.zone == "hall-b")
        let issued = try await f.admin.createKey(org: "acme", env: "prod", name: nil, expiresAt: nil, allowedModels: nil, by: f.actor)
        let resolver = IdentityResolver(store: f.store, hasher: try KeyHasher.loadOrCreate(dataDirectory: f.dir.path),
                                        clock: f.clock.wallClock, recheckInterval: .zero)
        guard case let .authenticated(identity) = try await resolver.resolve(issued.secret) else { Issue.record("refused"); return }
        #expect(identity.zone == "hall-b")

        let rows = try f.auditRows()
        let home = try await f.admin.setEnvironmentZone("acme/prod", zone: nil, by: f.actor)
        #expect(home.zone == nil)
        #expect(try f.auditRows() == rows + 1)
        guard case let .authenticated(again) = try await resolver.resolve(issued.secret) else { Issue.record("refused"); return }
        #expect(again.zone == nil)
        #expect(try await f.admin.environment("acme/prod").zone == nil)
    }

    @Test func badZonesAndRevokedEnvironmentsChangeNothing() async throws {
        let f = try AdminFixture()
        _ = try await f.admin.createOrg(name: "acme", by: f.actor)
        await #expect(throws: AirlockError.self) {
            try await f.admin.createEnvironment(org: "acme", name: "prod", zone: "hall b; DROP TABLE", by: f.actor)
        }
        #expect(try await f.admin.listEnvironments(org: "acme").isEmpty)
        _ = try await f.admin.createEnvironment(org: "acme", name: "prod", by: f.actor)
        let rows = try f.auditRows()
        for bad in ["", "../etc", String(repeating: "z", count: 200)] {
            await #expect(throws: AirlockError.self) { try await f.admin.setEnvironmentZone("acme/prod", zone: bad, by: f.actor) }
        }
        _ = try await f.admin.revokeEnvironment("acme/prod", by: f.actor)
        await #expect(throws: AirlockError.self) { try await f.admin.setEnvironmentZone("acme/prod", zone: "hall-a", by: f.actor) }
        #expect(try f.auditRows() == rows + 1, "only the revocation")
        #expect(try await f.admin.environment("acme/prod").zone == nil)
    }
}
