import AirlockAdmin
import AirlockCore
import AirlockLicensing
import AirlockTestSupport
import Crypto
import Foundation
import Testing

/// Turning the clock back never extends a licence: validity is judged at the latest time the
/// appliance has recorded (ledger and audit rows), and a clock behind it is audited.
@Suite struct LicenseClockTests {
    let f: AdminFixture
    let vendor = Curve25519.Signing.PrivateKey()
    let state: LicenseState

    init() throws {
        f = try AdminFixture()
        var facts = ApplianceIdentity.MachineFacts()
        facts.machineIDPath = f.dir.child("machine-id")
        facts.productUUIDPath = f.dir.child("none")
        try "machine".write(toFile: facts.machineIDPath, atomically: true, encoding: .utf8)
        state = LicenseState(dataDirectory: f.dir.path, keys: VendorKeys([vendor.publicKey]),
                             identity: try ApplianceIdentity.openOrCreate(dataDirectory: f.dir.path, facts: facts))
    }

    /// A licence valid for 10 days from now (5 days' grace), requested and activated now.
    func activate() async throws {
        let now = f.clock.now.value / 1000
        let terms = LicenseTerms(licenseID: "lic-clock", customer: "Bank", issuedAt: now, notBefore: now - 60, expiresAt: now + 10 * 86_400,
                                 graceDays: 5, entitlements: Entitlements(maxGPUs: 8, maxNodes: 2, maxOrgs: 5, reservedCapacityUnits: 0, features: []))
        try SignedEnvelope.sign(terms, kind: SignedEnvelope.Kind.license, with: vendor).write(to: f.dir.child("L.lic"))
        _ = try await f.admin.requestLicenseActivation(state, licenseFile: f.dir.child("L.lic"), output: f.dir.child("R.json"), by: f.actor)
        let request = try ActivationRequest.verify(try SignedEnvelope.read(f.dir.child("R.json"), what: "request"))
        try SignedEnvelope.sign(ActivationGrant(for: request, at: now), kind: SignedEnvelope.Kind.activation, with: vendor).write(to: f.dir.child("A.json"))
        _ = try await f.admin.activateLicense(state, activationFile: f.dir.child("A.json"), by: f.actor)
    }

    func rollbacks() throws -> Int {
        try Tampering.count(databasePath: f.store.path, "SELECT count(*) FROM audit_log WHERE action = 'license.clock_rollback'")
    }

    @Test func aClockTurnedBackIsJudgedAtTheLatestRecordedTimeAndAudited() async throws {
        try await activate()
        #expect(try await f.admin.currentLicenseStatus(state, by: f.actor).state == .active)
        // Twenty days on, something is recorded: the licence is past its grace.
        f.clock.advance(seconds: 20 * 86_400)
        _ = try await f.admin.createOrg(name: "late", by: f.actor)
        #expect(try await f.admin.currentLicenseStatus(state, by: f.actor).state == .expired)
        // Back to day 5: still expired, and the rollback is on record.
        f.clock.advance(seconds: -15 * 86_400)
        let status = try await f.admin.currentLicenseStatus(state, by: f.actor)
        #expect(status.state == .expired && !status.allowsInference)
        #expect(status.clockBehindSeconds == Int64(15 * 86_400))
        #expect(try rollbacks() == 1)
    }

    @Test func aClockSlightlyBehindIsTolerated() async throws {
        try await activate()
        _ = try await f.admin.createOrg(name: "now", by: f.actor)
        f.clock.advance(seconds: -AdminActions.clockRollbackTolerance)
        let status = try await f.admin.currentLicenseStatus(state, by: f.actor)
        #expect(status.state == .active && status.clockBehindSeconds == nil)
        #expect(try rollbacks() == 0)
    }
}
