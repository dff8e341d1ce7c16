import AirlockTestSupport
import Foundation
import Testing

/// `airlock upgrade` and `airlock-vendor bundle build` with bad input: one plain line on stderr,
/// exit status 1, and nothing written. (Real bundles, applies and rollbacks run end to end in
/// Tests/e2e/test_upgrade.py; the hostile bundle set in AirlockBundlesTests.)
@Suite struct UpgradeCommandTests {
    /// `airlock upgrade ARGS…` against an initialised data dir and an empty prefix.
    static func upgrade(_ arguments: String...) throws -> (Executables.Outcome, prefix: TemporaryDirectory) {
        let data = try Executables.initializedDataDir()
        let prefix = TemporaryDirectory()
        let outcome = try Executables.run("airlock", ["upgrade"] + arguments + ["--data-dir", data.path, "--prefix", prefix.path])
        return (outcome, prefix)
    }

    static func expectRefused(_ outcome: Executables.Outcome, _ fragment: String, _ prefix: TemporaryDirectory) throws {
        #expect(outcome.status != 0, "\(outcome.stdout)")
        #expect(outcome.stderr.contains(fragment), "\(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1, "more than one line: \(outcome.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: prefix.path).isEmpty, "the prefix changed")
    }

    @Test func aMissingOrForeignBundleFileIsRefused() throws {
        let (missing, prefix) = try Self.upgrade("verify", "/nonexistent/airlock-9.9.9.bundle")
        try Self.expectRefused(missing, "cannot read /nonexistent/airlock-9.9.9.bundle", prefix)
        let junk = TemporaryDirectory()
        try Data("PK\u{3}\u{4} not really a zip".utf8).write(to: URL(fileURLWithPath: junk.child("junk.bundle")))
        let (foreign, prefix2) = try Self.upgrade("install", junk.child("junk.bundle"))
        try Self.expectRefused(foreign, "is not a bundle", prefix2)
    }

    @Test func applyAndRollbackNeedAnInstalledRelease() throws {
        let junk = TemporaryDirectory()
        let (apply, prefix) = try Self.upgrade("apply", junk.child("nothing.bundle"))
        try Self.expectRefused(apply, "nothing is installed", prefix)
        let (rollback, prefix2) = try Self.upgrade("rollback")
        try Self.expectRefused(rollback, "nothing is installed", prefix2)
        let (recover, _) = try Self.upgrade("recover")
        #expect(recover.status == 0 && recover.stdout.contains("nothing to recover"), "\(recover.stderr)")
    }

    @Test func aReleaseVersionMustBeMajorMinorPatch() throws {
        let (outcome, prefix) = try Self.upgrade("rollback", "--to", "1.2")
        try Self.expectRefused(outcome, "'1.2' is not a release version", prefix)
    }

    @Test func theVendorToolRefusesAFolderWithoutAnAirlockd() throws {
        let work = TemporaryDirectory()
        let key = work.child("release.key")
        #expect(try Executables.run("airlock-vendor", ["keygen", "--out", key]).status == 0)
        try FileManager.default.createDirectory(atPath: work.child("bin"), withIntermediateDirectories: true)
        let outcome = try Executables.run("airlock-vendor", ["bundle", "build", "--signing-key", key, "--bin-dir", work.child("bin"),
                                                             "--version", "1.0.0", "--out", work.child("out.bundle")])
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("cannot run"), "\(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work.child("out.bundle")))
    }
}
