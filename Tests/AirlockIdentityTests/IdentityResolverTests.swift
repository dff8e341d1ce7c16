import AirlockAdmin
import AirlockCore
import AirlockIdentity
import AirlockStore
import AirlockTestSupport
import Testing

/// An appliance with one org, env and key, its admin layer and a resolver wired together as the
/// daemon wires them.
struct Appliance {
    let dir = TemporaryDirectory()
    let clock = ManualClock()
    let store: Store
    let admin: AdminActions
    let resolver: IdentityResolver
    let issued: IssuedKey
    let actor = AdminActor("test:admin")

    init(graceSeconds: Int = 3_600, expiresAt: UnixMillis? = nil) async throws {
        store = try Store(dataDirectory: dir.path)
        let hasher = try KeyHasher.loadOrCreate(dataDirectory: dir.path)
        let resolver = IdentityResolver(store: store, hasher: hasher, clock: clock.wallClock, recheckInterval: .seconds(3600))
        self.resolver = resolver
        admin = AdminActions(store: store, hasher: hasher, clock: clock.wallClock, rotationGraceSeconds: graceSeconds,
                             onTenancyChange: { resolver.invalidate() })
        _ = try await admin.createOrg(name: "acme", by: actor)
        _ = try await admin.createEnvironment(org: "acme", name: "prod", by: actor)
        issued = try await admin.createKey(org: "acme", env: "prod", name: "ci", expiresAt: expiresAt,
                                           allowedModels: ["llama-3-8b"], by: actor)
    }
}

@Suite struct IdentityResolverTests {
    @Test func aKeyResolvesToItsOrgEnvAndPermissions() async throws {
        let app = try await Appliance()
        let identity = try #require(try await app.resolver.resolve(app.issued.secret).identity)
        #expect(identity.keyID == app.issued.key.id)
        #expect(identity.orgID == app.issued.key.orgID)
        #expect(identity.envID == app.issued.key.envID)
        #expect(identity.allows(model: "llama-3-8b") && !identity.allows(model: "gpt-4"))
    }

    @Test func unknownAndMalformedKeysAreRefused() async throws {
        let app = try await Appliance()
        #expect(try await app.resolver.resolve("not-a-key") == .refused(.malformed))
        #expect(try await app.resolver.resolve(APIKeyFormat.generate()) == .refused(.unknown))
    }

    @Test(arguments: [TenancyLevel.org, .env, .key])
    func aSuspendedLevelDoesNotResolveUntilResumed(level: TenancyLevel) async throws {
        let app = try await Appliance()
        let key = app.issued.key.id.rawValue
        switch level {
        case .org: _ = try await app.admin.suspendOrg("acme", by: app.actor)
        case .env: _ = try await app.admin.suspendEnvironment("acme/prod", by: app.actor)
        case .key: _ = try await app.admin.suspendKey(key, by: app.actor)
        }
        #expect(try await app.resolver.resolve(app.issued.secret) == .refused(.suspended(level)))
        switch level {
        case .org: _ = try await app.admin.resumeOrg("acme", by: app.actor)
        case .env: _ = try await app.admin.resumeEnvironment("acme/prod", by: app.actor)
        case .key: _ = try await app.admin.resumeKey(key, by: app.actor)
        }
        #expect(try await app.resolver.resolve(app.issued.secret).identity != nil)
    }

    @Test func aRotatedKeyWorksUntilItsGraceWindowEnds() async throws {
        let app = try await Appliance(graceSeconds: 3_600)
        let rotated = try await app.admin.rotateKey(app.issued.key.id.rawValue, by: app.actor)
        #expect(rotated.key.id == app.issued.key.id)
        #expect(try await app.resolver.resolve(app.issued.secret).identity?.keyID == app.issued.key.id)
        #expect(try await app.resolver.resolve(rotated.secret).identity?.keyID == app.issued.key.id)
        app.clock.advance(seconds: 3_599)
        #expect(try await app.resolver.resolve(app.issued.secret).identity != nil)
        app.clock.advance(seconds: 1)
        #expect(try await app.resolver.resolve(app.issued.secret) == .refused(.retired))
        #expect(try await app.resolver.resolve(rotated.secret).identity != nil)
    }

    @Test func rotatingTwiceNeverExtendsAnOlderSecret() async throws {
        let app = try await Appliance(graceSeconds: 3_600)
        let id = app.issued.key.id.rawValue
        _ = try await app.admin.rotateKey(id, by: app.actor)
        app.clock.advance(seconds: 3_000)
        _ = try await app.admin.rotateKey(id, graceSeconds: 7_200, by: app.actor)
        app.clock.advance(seconds: 600)
        #expect(try await app.resolver.resolve(app.issued.secret) == .refused(.retired))
    }

    @Test func aRevokedKeyNeverResolvesAgain() async throws {
        let app = try await Appliance()
        let id = app.issued.key.id.rawValue
        let rotated = try await app.admin.rotateKey(id, by: app.actor)
        _ = try await app.admin.revokeKey(id, by: app.actor)
        #expect(try await app.resolver.resolve(app.issued.secret) == .refused(.revoked(.key)))
        #expect(try await app.resolver.resolve(rotated.secret) == .refused(.revoked(.key)))
        await #expect(throws: AirlockError.self) { try await app.admin.resumeKey(id, by: app.actor) }
        await #expect(throws: AirlockError.self) { try await app.admin.rotateKey(id, by: app.actor) }
        // Not even by editing the row with the triggers in place.
        #expect(Tampering.attempt(databasePath: app.store.path, "UPDATE api_keys SET status = 'active'")?.contains("revoked") == true)
        app.clock.advance(seconds: 86_400 * 365)
        #expect(try await app.resolver.resolve(rotated.secret).identity == nil)
    }

    @Test func anExpiredKeyIsRefused() async throws {
        let clockStart = ManualClock().now
        let app = try await Appliance(expiresAt: clockStart.adding(seconds: 60))
        #expect(try await app.resolver.resolve(app.issued.secret).identity != nil)
        app.clock.advance(seconds: 60)
        #expect(try await app.resolver.resolve(app.issued.secret) == .refused(.expired))
    }

    @Test func aChangeMadeByAnotherProcessIsSeenAfterTheRecheckInterval() async throws {
        let app = try await Appliance()
        let hasher = try KeyHasher.loadOrCreate(dataDirectory: app.dir.path)
        let resolver = IdentityResolver(store: app.store, hasher: hasher, clock: app.clock.wallClock, recheckInterval: .milliseconds(50))
        #expect(try await resolver.resolve(app.issued.secret).identity != nil)
        // A second store on the same file stands in for the CLI process; nobody calls invalidate().
        let otherProcess = try Store(dataDirectory: app.dir.path)
        let cli = AdminActions(store: otherProcess, hasher: hasher, clock: app.clock.wallClock, rotationGraceSeconds: 0)
        _ = try await cli.suspendKey(app.issued.key.id.rawValue, by: AdminActor("cli:other"))
        try await Task.sleep(for: .milliseconds(60))
        #expect(try await resolver.resolve(app.issued.secret) == .refused(.suspended(.key)))
    }
}
