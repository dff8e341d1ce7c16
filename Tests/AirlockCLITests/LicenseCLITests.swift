import AirlockTestSupport
import Foundation
import Testing

/// The offline activation cycle as operators and the vendor run it: `airlock-vendor` and
/// `airlock` are separate processes that share nothing but the files carried between them.
@Suite struct LicenseCLITests {
    let vendorDir = TemporaryDirectory("airlock-vendor")

    /// A vendor key, and an appliance whose airlock.toml trusts it as a development key.
    func setUp() throws -> (appliance: TemporaryDirectory, config: String) {
        let keygen = try Executables.run("airlock-vendor", ["keygen", "--out", vendorDir.child("vendor.key"), "--comment", "test vendor"])
        #expect(keygen.status == 0, "\(keygen.stderr)")
        try keygen.stdout.write(toFile: vendorDir.child("trusted"), atomically: true, encoding: .utf8)
        let appliance = try Executables.initializedDataDir()
        let config = appliance.child("airlock.toml")
        try "data_dir = \"\(appliance.path)\"\n[license]\nvendor_key_files = [\"\(vendorDir.child("trusted"))\"]\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        return (appliance, config)
    }

    func airlock(_ config: String, _ arguments: String...) throws -> Executables.Outcome {
        try Executables.run("airlock", ["--config", config] + arguments)
    }

    func vendor(_ arguments: String...) throws -> Executables.Outcome {
        try Executables.run("airlock-vendor", arguments)
    }

    func issue(_ out: String, expires: String = "2099-01-31") throws {
        let issued = try vendor("issue", "--signing-key", vendorDir.child("vendor.key"), "--license-id", "bank-2027",
                                "--customer", "Bank of Tests", "--expires", expires, "--max-gpus", "64", "--max-nodes", "8",
                                "--max-orgs", "20", "--feature", "prefix_routing", "--out", out)
        #expect(issued.status == 0, "\(issued.stderr)")
    }

    @Test func requestActivateStatusAcrossProcesses() throws {
        let (appliance, config) = try setUp()
        #expect(try airlock(config, "license", "status").stdout.contains("state: evaluation"))
        try issue(vendorDir.child("L.lic"))
        let request = try airlock(config, "license", "request", "--license", vendorDir.child("L.lic"), "--out", vendorDir.child("R.json"))
        #expect(request.status == 0, "\(request.stderr)")
        let activated = try vendor("activate", "--request", vendorDir.child("R.json"), "--license", vendorDir.child("L.lic"),
                                   "--signing-key", vendorDir.child("vendor.key"), "--out", vendorDir.child("A.json"))
        #expect(activated.status == 0, "\(activated.stderr)")
        let installed = try airlock(config, "license", "activate", vendorDir.child("A.json"))
        #expect(installed.status == 0 && installed.stdout.contains("licence bank-2027 activated: active"), "\(installed.stderr)")
        let status = try #require(try Executables.json(try airlock(config, "--json", "license", "status")) as? [String: Any])
        #expect(status["state"] as? String == "active" && status["license_id"] as? String == "bank-2027")
        #expect((status["entitlements"] as? [String: Any])?["max_nodes"] as? Int == 8)
        let actions = try Tampering.count(databasePath: appliance.child("airlock.sqlite"),
                                          "SELECT count(*) FROM audit_log WHERE action IN ('license.request', 'license.activate')")
        #expect(actions == 2)
    }

    @Test func anActivationCarriedToAnotherApplianceOrReplayedIsRefusedAndChangesNothing() throws {
        let (appliance, config) = try setUp()
        try issue(vendorDir.child("L.lic"))
        _ = try airlock(config, "license", "request", "--license", vendorDir.child("L.lic"), "--out", vendorDir.child("R.json"))
        _ = try vendor("activate", "--request", vendorDir.child("R.json"), "--license", vendorDir.child("L.lic"),
                       "--signing-key", vendorDir.child("vendor.key"), "--out", vendorDir.child("A.json"))
        // A second appliance (its own identity) with its own pending request.
        let other = try Executables.initializedDataDir()
        let otherConfig = other.child("airlock.toml")
        try "data_dir = \"\(other.path)\"\n[license]\nvendor_key_files = [\"\(vendorDir.child("trusted"))\"]\n"
            .write(toFile: otherConfig, atomically: true, encoding: .utf8)
        _ = try airlock(otherConfig, "license", "request", "--license", vendorDir.child("L.lic"), "--out", vendorDir.child("R-other.json"))
        let stolen = try airlock(otherConfig, "license", "activate", vendorDir.child("A.json"))
        #expect(stolen.status != 0 && stolen.stderr.contains("not this one"), "\(stolen.stderr)")
        #expect(try airlock(otherConfig, "license", "status").stdout.contains("state: evaluation"))
        // The rightful appliance activates once; the same file again is refused.
        #expect(try airlock(config, "license", "activate", vendorDir.child("A.json")).status == 0)
        let replay = try airlock(config, "license", "activate", vendorDir.child("A.json"))
        #expect(replay.status != 0 && replay.stderr.contains("no activation request is pending"), "\(replay.stderr)")
        // Garbage and a licence from an unknown vendor.
        try "{ nope".write(toFile: vendorDir.child("garbage.json"), atomically: true, encoding: .utf8)
        #expect(try airlock(config, "license", "activate", vendorDir.child("garbage.json")).stderr.contains("truncated or not JSON"))
        let refusals = try Tampering.count(databasePath: appliance.child("airlock.sqlite"),
                                           "SELECT count(*) FROM audit_log WHERE action = 'license.activate_refused'")
        #expect(refusals == 2)
        #expect(try airlock(config, "license", "status").stdout.contains("state: active"))
    }

    @Test func theSignedUsageReportStatesTheLedgerAndTheVendorChecksIt() async throws {
        // 25 ledger rows in January 2027 (IndependentVerifierTests' appliance), then a vendor key.
        let appliance = try await IndependentVerifierTests.populated()
        let keygen = try Executables.run("airlock-vendor", ["keygen", "--out", vendorDir.child("vendor.key")])
        try keygen.stdout.write(toFile: vendorDir.child("trusted"), atomically: true, encoding: .utf8)
        let config = appliance.child("airlock.toml")
        try "data_dir = \"\(appliance.path)\"\n[license]\nvendor_key_files = [\"\(vendorDir.child("trusted"))\"]\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        try issue(vendorDir.child("L.lic"))
        _ = try airlock(config, "license", "request", "--license", vendorDir.child("L.lic"), "--out", vendorDir.child("R.json"))
        let written = try airlock(config, "license", "report", "--period", "2027-01", "--out", vendorDir.child("report.json"))
        #expect(written.status == 0 && written.stdout.contains("25 requests"), "\(written.stderr)")
        let checked = try vendor("verify-report", "--report", vendorDir.child("report.json"), "--request", vendorDir.child("R.json"))
        #expect(checked.status == 0 && checked.stdout.contains("appliance key matches") && checked.stdout.contains("ledger rows 25"), "\(checked.stderr)")
        // Edited after signing: refused.
        let text = try String(contentsOfFile: vendorDir.child("report.json"), encoding: .utf8)
        let payload = try #require(text.split(separator: "\"").drop { $0 != "payload" }.dropFirst(2).first)
        var bytes = try #require(Data(base64Encoded: String(payload)))
        bytes[bytes.count / 2] ^= 0x01
        try text.replacingOccurrences(of: String(payload), with: bytes.base64EncodedString())
            .write(toFile: vendorDir.child("edited.json"), atomically: true, encoding: .utf8)
        let edited = try vendor("verify-report", "--report", vendorDir.child("edited.json"))
        #expect(edited.status != 0, "\(edited.stdout)")
        // An empty month is a valid report of nothing.
        #expect(try airlock(config, "license", "report", "--period", "2026-02", "--out", vendorDir.child("empty.json")).stdout.contains("0 requests"))
        #expect(try airlock(config, "license", "report", "--period", "2027-13", "--out", vendorDir.child("bad.json")).stderr.contains("YYYY-MM"))
    }
}
