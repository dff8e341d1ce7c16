import AirlockAdmin
import AirlockCore
import AirlockIdentity
import AirlockStore
import AirlockTestSupport
import Testing

struct AdminFixture {
    let dir = TemporaryDirectory()
    let clock = ManualClock()
    let store: Store
    let admin: AdminActions
    let actor = AdminActor("cli:alice")

    init() throws {
        store = try Store(dataDirectory: dir.path)
        admin = AdminActions(store: store, hasher: try KeyHasher.loadOrCreate(dataDirectory: dir.path),
                             clock: clock.wallClock, rotationGraceSeconds: 60)
    }

    func auditRows() throws -> Int { try Tampering.count(databasePath: store.path, "SELECT count(*) FROM audit_log") }
}

@Suite struct TenancyAdminTests {
    @Test func createsTheHierarchyAndFindsItByIdOrName() async throws {
        let f = try AdminFixture()
        let org = try await f.admin.createOrg(name: "acme", by: f.actor)
        let env = try await f.admin.createEnvironment(org: org.id.rawValue, name: "prod", by: f.actor)
        #expect(try await f.admin.org("acme") == org)
        #expect(try await f.admin.org(org.id.rawValue) == org)
        #expect(try await f.admin.environment("acme/prod") == env)
        #expect(try await f.admin.environment(env.id.rawValue) == env)
        #expect(try await f.admin.listEnvironments(org: "acme") == [env])
    }

    @Test(arguments: ["acme", "ACME", "Acme"])
    func orgNamesAreUniqueIgnoringCase(name: String) async throws {
        let f = try AdminFixture()
        _ = try await f.admin.createOrg(name: "acme", by: f.actor)
        await #expect(throws: AirlockError.duplicate(kind: "org", name: "acme", scope: nil)) {
            try await f.admin.createOrg(name: name, by: f.actor)
        }
        #expect(try f.auditRows() == 1)
    }

    @Test func envNamesAreUniqueWithinAnOrgOnly() async throws {
        let f = try AdminFixture()
        _ = try await f.admin.createOrg(name: "a", by: f.actor)
        _ = try await f.admin.createOrg(name: "b", by: f.actor)
        _ = try await f.admin.createEnvironment(org: "a", name: "prod", by: f.actor)
        _ = try await f.admin.createEnvironment(org: "b", name: "prod", by: f.actor)
        await #expect(throws: AirlockError.self) { try await f.admin.createEnvironment(org: "a", name: "prod", by: f.actor) }
    }

    @Test(arguments: ["", " ", "a b", "-lead", "org_0123456789abcdef", "env_x", "a/b", "ünïcode", String(repeating: "x", count: 64), "x;DROP TABLE orgs"])
    func invalidNamesAreRefused(name: String) async throws {
        let f = try AdminFixture()
        await #expect(throws: AirlockError.self) { try await f.admin.createOrg(name: name, by: f.actor) }
        #expect(try await f.admin.listOrgs().isEmpty)
    }

    @Test func unknownReferencesNameWhatWasNotFound() async throws {
        let f = try AdminFixture()
        await #expect(throws: AirlockError.notFound(kind: "org", reference: "ghost")) {
            try await f.admin.createEnvironment(org: "ghost", name: "prod", by: f.actor)
        }
        await #expect(throws: AirlockError.notFound(kind: "key", reference: "key_0000000000000000")) {
            try await f.admin.revokeKey("key_0000000000000000", by: f.actor)
        }
        await #expect(throws: AirlockError.self) { try await f.admin.revokeKey("key_NOPE", by: f.actor) }
        await #expect(throws: AirlockError.self) { try await f.admin.environment("prod") }
    }

    @Test func nothingNewUnderARevokedParent() async throws {
        let f = try AdminFixture()
        _ = try await f.admin.createOrg(name: "acme", by: f.actor)
        _ = try await f.admin.createEnvironment(org: "acme", name: "prod", by: f.actor)
        _ = try await f.admin.revokeEnvironment("acme/prod", by: f.actor)
        await #expect(throws: AirlockError.parentRevoked(kind: "env", id: try await f.admin.environment("acme/prod").id.rawValue)) {
            try await f.admin.createKey(org: "acme", env: "prod", name: nil, expiresAt: nil, allowedModels: nil, by: f.actor)
        }
        _ = try await f.admin.revokeOrg("acme", by: f.actor)
        await #expect(throws: AirlockError.self) { try await f.admin.createEnvironment(org: "acme", name: "dev", by: f.actor) }
        await #expect(throws: AirlockError.self) { try await f.admin.resumeOrg("acme", by: f.actor) }
    }

    @Test func aKeyCannotBeCreatedInAnotherOrgsEnvironment() async throws {
        let f = try AdminFixture()
        _ = try await f.admin.createOrg(name: "a", by: f.actor)
        _ = try await f.admin.createOrg(name: "b", by: f.actor)
        let envB = try await f.admin.createEnvironment(org: "b", name: "prod", by: f.actor)
        await #expect(throws: AirlockError.notFound(kind: "env", reference: envB.id.rawValue)) {
            try await f.admin.createKey(org: "a", env: envB.id.rawValue, name: nil, expiresAt: nil, allowedModels: nil, by: f.actor)
        }
    }
}

@Suite struct AuditTrailTests {
    @Test func everyMutationWritesOneAuditRowWithActorAndBeforeAfter() async throws {
        let f = try AdminFixture()
        _ = try await f.admin.createOrg(name: "acme", by: f.actor)
        _ = try await f.admin.createEnvironment(org: "acme", name: "prod", by: f.actor)
        let issued = try await f.admin.createKey(org: "acme", env: "prod", name: "ci", expiresAt: nil, allowedModels: nil, by: f.actor)
        let id = issued.key.id.rawValue
        _ = try await f.admin.suspendKey(id, by: f.actor)
        _ = try await f.admin.resumeKey(id, by: f.actor)
        let rotated = try await f.admin.rotateKey(id, by: f.actor)
        _ = try await f.admin.suspendOrg("acme", by: f.actor)
        _ = try await f.admin.resumeOrg("acme", by: f.actor)
        _ = try await f.admin.revokeKey(id, by: f.actor)
        // Reads are not audited; failed mutations leave nothing.
        _ = try await f.admin.listKeys(org: nil, env: nil)
        await #expect(throws: AirlockError.self) { try await f.admin.resumeKey(id, by: f.actor) }

        let actions = try await f.store.read { reader in try reader.auditTrail() }
        #expect(actions.map(\.action) == [
            "org.create", "env.create", "key.create", "key.suspend", "key.resume", "key.rotate",
            "org.suspend", "org.resume", "key.revoke",
        ])
        #expect(actions.allSatisfy { $0.actor == "cli:alice" })
        let suspend = actions[3]
        #expect(suspend.before?.contains("\"status\":\"active\"") == true)
        #expect(suspend.after?.contains("\"status\":\"suspended\"") == true)
        #expect(actions[0].before == nil)
        // Secrets and their hashes never reach the audit log.
        let hasher = try KeyHasher.loadOrCreate(dataDirectory: f.dir.path)
        for entry in actions {
            for text in [entry.before, entry.after].compactMap({ $0 }) {
                #expect(!text.contains(issued.secret) && !text.contains(rotated.secret))
                #expect(!text.contains(hasher.hash(issued.secret)))
            }
        }
        #expect(try await LedgerAudit(store: f.store).verifyAuditLog().isIntact)
    }
}
