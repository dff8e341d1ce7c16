import AirlockAdmin
import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

@Suite struct PasswordHashTests {
    static let password = "correct horse battery staple"

    @Test func makeThenVerifyRoundTrips() throws {
        let hash = try PasswordHash.make(password: Self.password, cost: .testing)
        #expect(hash.hasPrefix("scrypt$ln=10,r=8,p=1$"))
        #expect(PasswordHash.verify(Self.password, against: hash))
        #expect(!hash.contains(Self.password))
        // Salted: the same password twice gives two hashes, both valid.
        let again = try PasswordHash.make(password: Self.password, cost: .testing)
        #expect(again != hash && PasswordHash.verify(Self.password, against: again))
    }

    @Test(arguments: ["correct horse battery stapl", "correct horse battery staple ", "Correct horse battery staple", "", String(repeating: "x", count: 2_000)])
    func aWrongPasswordFails(_ guess: String) throws {
        let hash = try PasswordHash.make(password: Self.password, cost: .testing)
        #expect(!PasswordHash.verify(guess, against: hash))
    }

    @Test func aTamperedHashNeverMatches() throws {
        let hash = try PasswordHash.make(password: Self.password, cost: .testing)
        let parts = hash.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        #expect(parts.count == 4)
        let salt = parts[2], digest = parts[3]
        func flipFirst(_ text: String) -> String { (text.first == "A" ? "B" : "A") + text.dropFirst() }
        let tampered = [
            "scrypt$ln=11,r=8,p=1$\(salt)$\(digest)",            // another cost
            "scrypt$ln=10,r=8,p=2$\(salt)$\(digest)",
            "scrypt$ln=10,r=8,p=1$\(flipFirst(salt))$\(digest)", // another salt
            "scrypt$ln=10,r=8,p=1$\(salt)$\(flipFirst(digest))", // another hash
            "scrypt$ln=10,r=8,p=1$\(salt)$\(digest.dropLast(4))", // a short hash
            "bcrypt$ln=10,r=8,p=1$\(salt)$\(digest)",
            "scrypt$ln=10,r=8$\(salt)$\(digest)",
            "scrypt$ln=ten,r=8,p=1$\(salt)$\(digest)",
            "scrypt$ln=10,r=8,p=1$\(salt)$\(digest)$extra",
            "scrypt$ln=10,r=8,p=1$!!!$\(digest)",
            "",
            "scrypt",
        ]
        for encoded in tampered {
            #expect(!PasswordHash.verify(Self.password, against: encoded), "\(encoded) matched")
        }
    }

    /// A row edited to demand an absurd cost is refused on sight, not run (2^40 × 1 KiB of memory).
    @Test func anAbsurdCostIsRefusedRatherThanAttempted() throws {
        let hash = try PasswordHash.make(password: Self.password, cost: .testing)
        let parts = hash.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        for cost in ["ln=40,r=8,p=1", "ln=21,r=8,p=1", "ln=0,r=8,p=1", "ln=10,r=64,p=1", "ln=10,r=8,p=64", "ln=10,r=0,p=1", "ln=-1,r=8,p=1"] {
            let encoded = "scrypt$\(cost)$\(parts[2])$\(parts[3])"
            let started = ContinuousClock.now
            #expect(!PasswordHash.verify(Self.password, against: encoded), "\(cost)")
            #expect(PasswordHash.cost(of: encoded) == nil, "\(cost)")
            #expect(ContinuousClock.now - started < .seconds(1), "\(cost) took \(ContinuousClock.now - started)")
        }
    }

    @Test func costOfReadsTheCostAHashWasMadeWith() throws {
        #expect(PasswordHash.cost(of: try PasswordHash.make(password: Self.password, cost: .testing)) == .testing)
        let eleven = PasswordHash.Cost(log2N: 11, blockSize: 8, parallelism: 1)
        #expect(PasswordHash.cost(of: try PasswordHash.make(password: Self.password, cost: eleven)) == eleven)
        #expect(PasswordHash.cost(of: "not a hash") == nil)
        #expect(PasswordHash.cost(of: "scrypt$ln=15,r=8,p=1$c2FsdA==$" + Data(repeating: 1, count: 32).base64EncodedString()) == .standard)
    }

    @Test(arguments: ["", "short", "elevenchars", String(repeating: "p", count: PasswordHash.maximumLength + 1)])
    func passwordsOutsideTheLengthBoundsAreRefused(_ password: String) {
        #expect(throws: AirlockError.self) { try PasswordHash.make(password: password, cost: .testing) }
    }

    @Test func twelveCharactersAreEnoughAndCharactersNotBytesCount() throws {
        _ = try PasswordHash.make(password: "twelve chars", cost: .testing)
        // Twelve characters, many more bytes.
        let accented = String(repeating: "é", count: 12)
        #expect(PasswordHash.verify(accented, against: try PasswordHash.make(password: accented, cost: .testing)))
    }
}

@Suite struct UserAdminTests {
    static let password = "a long enough password"

    /// The shared fixture with scrypt at the testing cost.
    static func fixture() throws -> (AdminFixture, AdminActions) {
        let f = try AdminFixture()
        var admin = f.admin
        admin.passwordCost = .testing
        return (f, admin)
    }

    @Test func createsAUserWithoutItsHashInTheAuditRow() async throws {
        let (f, admin) = try Self.fixture()
        let user = try await admin.createUser(name: "alice", role: .admin, org: nil, password: Self.password, by: f.actor)
        #expect(user.role == .admin && user.status == .active && user.orgID == nil && user.lockedUntil == nil)
        #expect(try await admin.user("ALICE") == user)
        let credential = try #require(try await f.store.read { try $0.userCredential(named: "alice") })
        #expect(PasswordHash.cost(of: credential.passwordHash) == .testing)
        #expect(PasswordHash.verify(Self.password, against: credential.passwordHash))
        let rows = try await f.store.read { try $0.auditTrail() }
        #expect(rows.map(\.action) == ["user.create"])
        #expect(rows.allSatisfy { !($0.after ?? "").contains("scrypt") && !($0.after ?? "").contains(Self.password) })
    }

    @Test func anOrgAdminNeedsAnOrgAndNoOtherRoleMayHaveOne() async throws {
        let (f, admin) = try Self.fixture()
        let acme = try await admin.createOrg(name: "acme", by: f.actor)
        await #expect(throws: AirlockError.self) {
            try await admin.createUser(name: "boss", role: .orgAdmin, org: nil, password: Self.password, by: f.actor)
        }
        for role in AdminRole.allCases where role != .orgAdmin {
            await #expect(throws: AirlockError.self, "\(role)") {
                try await admin.createUser(name: "u-\(role.rawValue)", role: role, org: "acme", password: Self.password, by: f.actor)
            }
        }
        await #expect(throws: AirlockError.notFound(kind: "org", reference: "ghost")) {
            try await admin.createUser(name: "boss", role: .orgAdmin, org: "ghost", password: Self.password, by: f.actor)
        }
        let byName = try await admin.createUser(name: "boss", role: .orgAdmin, org: "acme", password: Self.password, by: f.actor)
        let byID = try await admin.createUser(name: "boss2", role: .orgAdmin, org: acme.id.rawValue, password: Self.password, by: f.actor)
        #expect(byName.orgID == acme.id && byID.orgID == acme.id)
        // Changing the role follows the same rule.
        await #expect(throws: AirlockError.self) { try await admin.setUserRole("boss", role: .viewer, org: "acme", by: f.actor) }
        await #expect(throws: AirlockError.self) { try await admin.setUserRole("boss", role: .orgAdmin, org: nil, by: f.actor) }
        let viewer = try await admin.setUserRole("boss", role: .viewer, org: nil, by: f.actor)
        #expect(viewer.orgID == nil)
        #expect(try await admin.listUsers().count == 2)
    }

    @Test(arguments: ["alice", "ALICE", "Alice"])
    func userNamesAreUniqueIgnoringCase(_ name: String) async throws {
        let (f, admin) = try Self.fixture()
        _ = try await admin.createUser(name: "alice", role: .viewer, org: nil, password: Self.password, by: f.actor)
        await #expect(throws: AirlockError.duplicate(kind: "user", name: "alice", scope: nil)) {
            try await admin.createUser(name: name, role: .admin, org: nil, password: Self.password, by: f.actor)
        }
        #expect(try await admin.listUsers().count == 1)
        #expect(try await admin.user("alice").role == .viewer)
    }

    @Test(arguments: ["", "a b", "<script>", "-lead", "org_0123456789abcdef", String(repeating: "x", count: 64)])
    func invalidUserNamesAreRefused(_ name: String) async throws {
        let (f, admin) = try Self.fixture()
        await #expect(throws: AirlockError.self) {
            try await admin.createUser(name: name, role: .viewer, org: nil, password: Self.password, by: f.actor)
        }
        #expect(try await admin.listUsers().isEmpty)
    }

    @Test func aShortPasswordIsRefusedAndNothingIsWritten() async throws {
        let (f, admin) = try Self.fixture()
        await #expect(throws: AirlockError.self) {
            try await admin.createUser(name: "alice", role: .viewer, org: nil, password: "elevenchars", by: f.actor)
        }
        #expect(try await admin.listUsers().isEmpty)
        #expect(try f.auditRows() == 0)
    }

    @Test func signInUpgradesAHashMadeAtALowerCost() async throws {
        let (f, testingAdmin) = try Self.fixture()
        var admin = testingAdmin
        _ = try await admin.createUser(name: "alice", role: .viewer, org: nil, password: Self.password, by: f.actor)
        let original = try #require(try await f.store.read { try $0.userCredential(named: "alice") }?.passwordHash)
        #expect(PasswordHash.cost(of: original) == .testing)

        let higher = PasswordHash.Cost(log2N: 11, blockSize: 8, parallelism: 1)
        admin.passwordCost = higher
        // A wrong password upgrades nothing.
        await #expect(throws: AccessError.signInRefused) { try await admin.signIn(name: "alice", password: "not the right one", from: "test") }
        #expect(try await f.store.read { try $0.userCredential(named: "alice") }?.passwordHash == original)

        let before = try await admin.user("alice")
        _ = try await admin.signIn(name: "alice", password: Self.password, from: "test")
        let upgraded = try #require(try await f.store.read { try $0.userCredential(named: "alice") }?.passwordHash)
        #expect(upgraded != original)
        #expect(PasswordHash.cost(of: upgraded) == higher)
        #expect(PasswordHash.verify(Self.password, against: upgraded))
        // Not a password change: the date stays, and signing in again works.
        #expect(try await admin.user("alice").passwordChangedAt == before.passwordChangedAt)
        _ = try await admin.signIn(name: "alice", password: Self.password, from: "test")
        #expect(try await f.store.read { try $0.userCredential(named: "alice") }?.passwordHash == upgraded)

        // A hash at a higher cost than configured is left alone (never downgraded).
        admin.passwordCost = .testing
        _ = try await admin.signIn(name: "alice", password: Self.password, from: "test")
        #expect(try await f.store.read { try $0.userCredential(named: "alice") }?.passwordHash == upgraded)
    }

    @Test func lockoutCountsConsecutiveFailuresAndLiftsAfterFifteenMinutes() async throws {
        let (f, admin) = try Self.fixture()
        _ = try await admin.createUser(name: "alice", role: .viewer, org: nil, password: Self.password, by: f.actor)
        for attempt in 1...SignInPolicy.maxFailures {
            await #expect(throws: AccessError.signInRefused) { try await admin.signIn(name: "alice", password: "wrong password \(attempt)", from: "t") }
        }
        let locked = try await admin.user("alice")
        #expect(locked.lockedUntil == UnixMillis(f.clock.now.value + SignInPolicy.lockoutSeconds * 1000))
        await #expect(throws: AccessError.signInRefused) { try await admin.signIn(name: "alice", password: Self.password, from: "t") }
        f.clock.advance(seconds: SignInPolicy.lockoutSeconds - 1)
        await #expect(throws: AccessError.signInRefused) { try await admin.signIn(name: "alice", password: Self.password, from: "t") }
        f.clock.advance(seconds: 1)
        #expect(try await admin.signIn(name: "alice", password: Self.password, from: "t").lockedUntil == nil)
        let actions = try await f.store.read { try $0.auditTrail() }.map(\.action)
        #expect(actions.filter { $0 == "user.login_failed" }.count == SignInPolicy.maxFailures + 2)
        #expect(actions.filter { $0 == "user.locked" }.count == 1)
        #expect(actions.last == "user.login")
    }

    @Test func settingAPasswordLiftsALockout() async throws {
        let (f, admin) = try Self.fixture()
        _ = try await admin.createUser(name: "alice", role: .viewer, org: nil, password: Self.password, by: f.actor)
        for _ in 1...SignInPolicy.maxFailures {
            _ = try? await admin.signIn(name: "alice", password: "wrong password here", from: "t")
        }
        #expect(try await admin.user("alice").lockedUntil != nil)
        let changed = try await admin.setUserPassword("alice", password: "a fresh long password", by: f.actor)
        #expect(changed.lockedUntil == nil)
        _ = try await admin.signIn(name: "alice", password: "a fresh long password", from: "t")
        await #expect(throws: AccessError.signInRefused) { try await admin.signIn(name: "alice", password: Self.password, from: "t") }
    }

    @Test func theLastActiveAdminStays() async throws {
        let (f, admin) = try Self.fixture()
        _ = try await admin.createUser(name: "alice", role: .admin, org: nil, password: Self.password, by: f.actor)
        _ = try await admin.createUser(name: "bob", role: .admin, org: nil, password: Self.password, by: f.actor)
        _ = try await admin.setUserStatus("bob", .disabled, by: f.actor)
        // bob is an admin but not an active one: alice is the last.
        await #expect(throws: AirlockError.self) { try await admin.setUserStatus("alice", .disabled, by: f.actor) }
        await #expect(throws: AirlockError.self) { try await admin.setUserRole("alice", role: .auditor, org: nil, by: f.actor) }
        // A disabled admin may be demoted freely.
        #expect(try await admin.setUserRole("bob", role: .viewer, org: nil, by: f.actor).role == .viewer)
        await #expect(throws: AirlockError.self) { try await admin.setUserStatus("bob", .disabled, by: f.actor) }
    }
}
