import AirlockCore
import AirlockTestSupport
import Crypto
import Foundation
import Testing

@testable import AirlockLicensing

/// One vendor, one appliance, files in a temporary directory: the whole offline cycle in process,
/// and every way a file can be wrong.
struct LicensingFixture {
    let dir = TemporaryDirectory("airlock-licensing")
    let vendor = Curve25519.Signing.PrivateKey()
    let now: Int64 = 1_800_000_000

    func identity(machine: String = "machine-a") throws -> ApplianceIdentity {
        var facts = ApplianceIdentity.MachineFacts()
        facts.machineIDPath = dir.child("machine-id-\(machine)")
        facts.productUUIDPath = dir.child("no-such-dmi")
        try machine.write(toFile: facts.machineIDPath, atomically: true, encoding: .utf8)
        return try ApplianceIdentity.openOrCreate(dataDirectory: dir.child("data-\(machine)"), facts: facts)
    }

    func state(machine: String = "machine-a") throws -> LicenseState {
        LicenseState(dataDirectory: dir.child("data-\(machine)"), keys: VendorKeys([vendor.publicKey]), identity: try identity(machine: machine))
    }

    func terms(id: String = "lic-001", expiresIn days: Int64 = 365, grace: Int = 30) -> LicenseTerms {
        LicenseTerms(licenseID: id, customer: "Bank of Testing", issuedAt: now, notBefore: now - 86_400, expiresAt: now + days * 86_400,
                     graceDays: grace, entitlements: Entitlements(maxGPUs: 64, maxNodes: 8, maxOrgs: 20, reservedCapacityUnits: 5_000,
                                                                 features: [.prefixRouting, .orgOwnedNodes]))
    }

    /// Writes a licence signed by `key` (the vendor's by default) and returns its path.
    func license(_ terms: LicenseTerms? = nil, signedBy key: Curve25519.Signing.PrivateKey? = nil, name: String = "L.lic") throws -> String {
        let path = dir.child(name)
        try SignedEnvelope.sign(terms ?? self.terms(), kind: SignedEnvelope.Kind.license, with: key ?? vendor).write(to: path)
        return path
    }

    /// What `airlock-vendor activate` does with a request file.
    func activation(for requestPath: String, name: String = "A.json") throws -> String {
        let request = try ActivationRequest.verify(try SignedEnvelope.read(requestPath, what: "request"))
        let path = dir.child(name)
        try SignedEnvelope.sign(ActivationGrant(for: request, at: now), kind: SignedEnvelope.Kind.activation, with: vendor).write(to: path)
        return path
    }
}

@Suite struct LicensingCycleTests {
    let f = LicensingFixture()

    @Test func requestActivateAndStatus() throws {
        let state = try f.state()
        #expect(try state.installed() == nil)
        #expect(LicenseStatus.evaluate(.success(nil), now: f.now).state == .evaluation)
        let (terms, request) = try state.request(licenseFile: try f.license(), output: f.dir.child("R.json"), now: f.now)
        #expect(request.applianceFingerprint == state.identityFingerprint && terms.licenseID == "lic-001")
        let installed = try state.activate(activationFile: try f.activation(for: f.dir.child("R.json")))
        #expect(try state.installed() == installed)
        let status = LicenseStatus.evaluate(.success(installed), now: f.now)
        #expect(status.state == .active && status.daysLeft == 365 && status.entitlements.maxNodes == 8)
        // The pending request is used up: the same activation cannot be applied twice.
        #expect(throws: LicensingError.self) { try state.activate(activationFile: f.dir.child("A.json")) }
    }

    @Test func theStatusFollowsTheClock() {
        let terms = f.terms(expiresIn: 10, grace: 5)
        let installed = LicenseState.Installed(terms: terms, grant: ActivationGrant(licenseID: "", licenseSHA256: "", applianceFingerprint: "", nonce: "", activatedAt: 0))
        func state(at day: Int64) -> LicenseStatus { LicenseStatus.evaluate(.success(installed), now: f.now + day * 86_400) }
        #expect(LicenseStatus.evaluate(.success(installed), now: terms.notBefore - 1).state == .notYetValid)
        #expect(LicenseStatus.evaluate(.success(installed), now: terms.notBefore - 1).entitlements == .evaluation)
        #expect(state(at: 9).state == .active && state(at: 9).daysLeft == 1)
        #expect(state(at: 11).state == .grace && state(at: 11).daysLeft == 4 && state(at: 11).allowsInference)
        #expect(state(at: 16).state == .expired && !state(at: 16).allowsInference)
    }

    @Test func theIdentityIsStableAndBoundToTheMachine() throws {
        let first = try f.identity()
        #expect(try f.identity().fingerprint == first.fingerprint)
        #expect(try f.identity(machine: "machine-b").fingerprint != first.fingerprint)
        let mode = try FileManager.default.attributesOfItem(atPath: f.dir.child("data-machine-a/identity/appliance.key"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        try "garbage".write(toFile: f.dir.child("data-machine-a/identity/appliance.key"), atomically: true, encoding: .utf8)
        #expect(throws: LicensingError.self) { try f.identity() }
    }

    @Test func theProductionKeysAreThoseInTheRepositoryFile() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("licenses/trusted-keys").path
        let repository = try VendorKeys.parse(try String(contentsOfFile: file, encoding: .utf8), source: file)
        let compiled = try VendorKeys.parse(ProductionVendorKeys.lines, source: "compiled")
        #expect(repository.map(\.rawRepresentation) == compiled.map(\.rawRepresentation))
    }
}

@Suite struct LicensingHostileTests {
    let f = LicensingFixture()

    /// `body` must fail with a message containing `message`, and leave no licence and no pending request.
    func refused(_ message: String, _ body: (LicenseState) throws -> Void) throws {
        let state = try f.state()
        do {
            try body(state)
            Issue.record("accepted; expected: \(message)")
        } catch let error as LicensingError {
            #expect(error.description.contains(message), "\(error.description)")
        }
        #expect(try state.installed() == nil)
    }

    @Test func badLicenceFilesAreRefusedWithASpecificMessage() throws {
        let output = f.dir.child("R.json")
        try refused("does not trust") { _ = try $0.request(licenseFile: try f.license(signedBy: Curve25519.Signing.PrivateKey()), output: output, now: f.now) }
        // One payload byte changed after signing.
        let edited = try f.license(name: "edited.lic")
        var envelope = try SignedEnvelope.read(edited, what: "licence")
        envelope.payload = Data(String(decoding: envelope.payload, as: UTF8.self).replacingOccurrences(of: "\"max_nodes\" : 8", with: "\"max_nodes\" : 9").utf8)
        try envelope.write(to: edited)
        try refused("signature does not verify") { _ = try $0.request(licenseFile: edited, output: output, now: f.now) }
        // An activation file passed off as a licence: the kind is part of what is signed.
        let wrongKind = f.dir.child("kind.lic")
        try SignedEnvelope.sign(f.terms(), kind: SignedEnvelope.Kind.activation, with: f.vendor).write(to: wrongKind)
        try refused("not a airlock-license/1") { _ = try $0.request(licenseFile: wrongKind, output: output, now: f.now) }
        // Truncated, garbage, oversized, missing.
        let whole = try Data(contentsOf: URL(fileURLWithPath: try f.license(name: "whole.lic")))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: f.dir.child("cut.lic")))
        try refused("truncated or not JSON") { _ = try $0.request(licenseFile: f.dir.child("cut.lic"), output: output, now: f.now) }
        try Data(repeating: 0x20, count: SignedEnvelope.maxFileBytes + 1).write(to: URL(fileURLWithPath: f.dir.child("big.lic")))
        try refused("is at most") { _ = try $0.request(licenseFile: f.dir.child("big.lic"), output: output, now: f.now) }
        try refused("cannot read") { _ = try $0.request(licenseFile: f.dir.child("absent.lic"), output: output, now: f.now) }
        // Signed, but expired beyond grace, or nonsense.
        var old = f.terms(expiresIn: -40, grace: 30)
        old.notBefore = old.expiresAt - 365 * 86_400
        try refused("has expired") { _ = try $0.request(licenseFile: try f.license(old, name: "old.lic"), output: output, now: f.now) }
        var backwards = f.terms()
        backwards.expiresAt = backwards.notBefore - 1
        try refused("expires before it starts") { _ = try $0.request(licenseFile: try f.license(backwards, name: "back.lic"), output: output, now: f.now) }
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func activationsForAnotherBoxOrRequestAreRefusedAndChangeNothing() throws {
        let state = try f.state()
        _ = try state.request(licenseFile: try f.license(), output: f.dir.child("R1.json"), now: f.now)
        let first = try f.activation(for: f.dir.child("R1.json"), name: "A1.json")
        // The same activation carried to another appliance.
        let other = try f.state(machine: "machine-b")
        _ = try other.request(licenseFile: f.dir.child("L.lic"), output: f.dir.child("R-other.json"), now: f.now)
        #expect(throws: LicensingError.self) { try other.activate(activationFile: first) }
        #expect(try other.installed() == nil)
        // A newer request replaces the pending one: the activation of the older is stale.
        _ = try state.request(licenseFile: f.dir.child("L.lic"), output: f.dir.child("R2.json"), now: f.now)
        do {
            _ = try state.activate(activationFile: first)
            Issue.record("a stale activation was accepted")
        } catch let error as LicensingError {
            #expect(error.description.contains("answers another request"))
        }
        #expect(try state.installed() == nil)
        // The newest one works; replaying the older one afterwards still does not.
        let installed = try state.activate(activationFile: try f.activation(for: f.dir.child("R2.json"), name: "A2.json"))
        #expect(throws: LicensingError.self) { try state.activate(activationFile: first) }
        #expect(try state.installed() == installed)
        // An activation signed by an untrusted key.
        let forged = f.dir.child("forged.json")
        try SignedEnvelope.sign(installed.grant, kind: SignedEnvelope.Kind.activation, with: Curve25519.Signing.PrivateKey()).write(to: forged)
        #expect(throws: LicensingError.self) { try state.activate(activationFile: forged) }
    }

    @Test func filesEditedOnDiskMakeTheLicenceInvalidNotDifferent() throws {
        let state = try f.state()
        _ = try state.request(licenseFile: try f.license(), output: f.dir.child("R.json"), now: f.now)
        let installed = try state.activate(activationFile: try f.activation(for: f.dir.child("R.json")))
        // Swap in another licence signed by the vendor but never activated here.
        try SignedEnvelope.read(try f.license(f.terms(id: "lic-002"), name: "L2.lic"), what: "licence")
            .write(to: state.licensePath(sha256: installed.grant.licenseSHA256))
        let status = LicenseStatus.evaluate(Result { try state.installed() }, now: f.now)
        #expect(status.state == .invalid && status.entitlements == .evaluation)
        #expect(status.problem?.contains("another licence") == true)
    }
}

@Suite struct UsageReportTests {
    let f = LicensingFixture()
    let usage = UsageSummary(
        lines: [.init(orgID: "org_1", orgName: "acme", model: "llama", requests: 3, promptTokens: 30, completionTokens: 60,
                      totalTokens: 90, estimatedRequests: 1)],
        rows: 3, firstSeq: 10, lastSeq: 12, headSeq: 40, headHash: String(repeating: "a", count: 64))

    @Test func aReportVerifiesWithTheApplianceKeyAndNothingElse() throws {
        let state = try f.state()
        let (report, envelope) = try state.signedReport(period: "2027-01", usage: usage, licenseID: "lic-001", now: f.now)
        #expect(report.periodStart == 1_798_761_600 && report.periodEnd == 1_801_440_000)
        let identity = try f.identity()
        #expect(try UsageReport.verify(envelope, expectedKey: identity.publicKey) == report)
        #expect(try UsageReport.verify(envelope, expectedKey: nil) == report)
        // Another appliance's key on file.
        #expect(throws: LicensingError.self) { try UsageReport.verify(envelope, expectedKey: try f.identity(machine: "machine-b").publicKey) }
        // A figure edited after signing.
        var edited = envelope
        edited.payload = Data(String(decoding: envelope.payload, as: UTF8.self).replacingOccurrences(of: "\"total_tokens\" : 90", with: "\"total_tokens\" : 9").utf8)
        #expect(edited.payload != envelope.payload)
        #expect(throws: LicensingError.self) { try UsageReport.verify(edited, expectedKey: nil) }
    }

    @Test(arguments: ["2027-1", "2027-13", "27-01", "2027-01-01", "", "abcd-ef"])
    func periodsMustBeMonths(period: String) {
        #expect(throws: LicensingError.self) { try UsageReport.month(period) }
    }
}
