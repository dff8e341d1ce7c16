import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing
@testable import AirlockBundles

/// Backup → wipe → restore, and every way a backup file can be wrong.
@Suite struct BackupTests {
    static let passphrase = "correct horse battery staple"

    /// A data dir with ledger rows, audit rows, secrets, certificates, a licence file.
    static func populated() async throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("airlock-backup-source")
        let store = try Store(dataDirectory: dir.path)
        let appender = LedgerAppender(store: store, maxBatch: 64)
        _ = try await appender.append(contentsOf: (0..<300).map { Samples.usage($0) })
        for index in 0..<5 {
            _ = try await store.write { tx in
                try tx.audit(AuditEntry(timestamp: UnixMillis(1_800_000_000_000 + Int64(index)), actor: "cli:test", action: "org.create",
                                        targetType: "org", targetID: "org_\(index)", before: nil, after: "{}"))
            }
        }
        let files: [String: String] = [
            "secrets/key-hashing.secret": "0123456789abcdef0123456789abcdef", "identity/appliance.key": "IDENTITY KEY",
            "tls/ca.key": "CA KEY", "tls/ca.crt": "CA CERT", "tls/server.key": "SERVER KEY", "tls/server.crt": "SERVER CERT",
            "node-ca/ca.key": "NODE CA KEY", "node-ca/ca.crt": "NODE CA CERT", "license/activation.lic": "{\"kind\":\"x\"}",
        ]
        for (path, text) in files {
            try FileManager.default.createDirectory(atPath: dir.path + "/" + (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: dir.path + "/" + path))
        }
        try Data("data_dir = \"/var/lib/airlock\"\n".utf8).write(to: URL(fileURLWithPath: dir.path + "/airlock.toml"))
        return dir
    }

    static func backup(_ source: TemporaryDirectory, _ out: TemporaryDirectory) async throws -> (String, BackupManifest) {
        let file = out.path + "/backup.zip"
        let manifest = try await Backup.create(dataDirectory: source.path, configFile: source.path + "/airlock.toml", output: file,
                                               passphrase: passphrase)
        return (file, manifest)
    }

    @Test func backupWipeRestoreGivesTheSameChainsAndFiles() async throws {
        let source = try await Self.populated()
        let out = TemporaryDirectory("airlock-backup-out")
        let (file, manifest) = try await Self.backup(source, out)
        let original = try await Store(dataDirectory: source.path).verifyLedger()
        #expect(manifest.ledger.rows == 300 && manifest.ledger.hash == original.verifiedHead?.hash)
        #expect(manifest.audit.rows == 5)
        #expect(manifest.files.filter(\.sealed).map(\.path).sorted() == Backup.sealedFiles.sorted())
        // The sealed files' contents are nowhere in the archive in the clear.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        #expect(bytes.range(of: Data("IDENTITY KEY".utf8)) == nil && bytes.range(of: Data("0123456789abcdef0123456789abcdef".utf8)) == nil)

        #expect(try await Backup.verify(file, passphrase: Self.passphrase) == manifest)
        let target = TemporaryDirectory("airlock-backup-target")
        try FileManager.default.removeItem(atPath: target.path)  // a wiped machine: no data dir at all
        let (restored, aside) = try await Backup.restore(file, passphrase: Self.passphrase, dataDirectory: target.path, replace: false)
        #expect(restored == manifest && aside == nil)
        let report = try await Store(dataDirectory: target.path).verifyLedger()
        #expect(report.isIntact && report.verifiedHead == original.verifiedHead)
        for path in ["secrets/key-hashing.secret", "identity/appliance.key", "tls/server.crt", "node-ca/ca.key", "license/activation.lic"] {
            #expect(FileManager.default.contents(atPath: target.path + "/" + path) == FileManager.default.contents(atPath: source.path + "/" + path), "\(path)")
        }
        #expect(FileManager.default.contents(atPath: target.path + "/" + Backup.restoredConfigName)
            == FileManager.default.contents(atPath: source.path + "/airlock.toml"))
        let mode = (try FileManager.default.attributesOfItem(atPath: target.path + "/identity/appliance.key")[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        #expect(!FileManager.default.fileExists(atPath: target.path + "/counters"), "counters are rebuilt, never restored")
    }

    @Test func aWrongPassphraseOpensNothing() async throws {
        let source = try await Self.populated()
        let out = TemporaryDirectory("airlock-backup-out")
        let (file, _) = try await Self.backup(source, out)
        await #expect(throws: BackupError.wrongPassphrase) { try await Backup.verify(file, passphrase: "not the passphrase at all") }
        let target = TemporaryDirectory("airlock-backup-target")
        await #expect(throws: BackupError.wrongPassphrase) {
            try await Backup.restore(file, passphrase: "not the passphrase at all", dataDirectory: target.path, replace: false)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.path).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: (target.path as NSString).deletingLastPathComponent)
            .allSatisfy { !$0.contains(".restore-") || !$0.hasPrefix((target.path as NSString).lastPathComponent) })
    }

    @Test func aRestoreNeverOverwritesADataDirUnlessAskedAndThenKeepsIt() async throws {
        let source = try await Self.populated()
        let out = TemporaryDirectory("airlock-backup-out")
        let (file, _) = try await Self.backup(source, out)
        let target = try await Self.populated()
        try Data("newer".utf8).write(to: URL(fileURLWithPath: target.path + "/marker"))
        await #expect(throws: AirlockError.self) {
            try await Backup.restore(file, passphrase: Self.passphrase, dataDirectory: target.path, replace: false)
        }
        #expect(FileManager.default.fileExists(atPath: target.path + "/marker"))
        let (_, aside) = try await Backup.restore(file, passphrase: Self.passphrase, dataDirectory: target.path, replace: true)
        let moved = try #require(aside)
        #expect(FileManager.default.fileExists(atPath: moved + "/marker"), "the replaced data dir must be kept aside")
        #expect(!FileManager.default.fileExists(atPath: target.path + "/marker"))
        try? FileManager.default.removeItem(atPath: moved)
    }

    @Test func aTamperedTruncatedOrForeignFileIsRefusedWithAReason() async throws {
        let source = try await Self.populated()
        let out = TemporaryDirectory("airlock-backup-out")
        let (file, _) = try await Self.backup(source, out)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        var cases: [(String, Data)] = [
            ("truncated", bytes.prefix(bytes.count / 2)),
            ("truncated after a stray end record", BundleFixture.withStrayEndRecord(bytes.prefix(bytes.count / 2))),
            ("empty", Data()),
            ("not a zip", Data("hello".utf8)),
        ]
        var flipped = bytes
        flipped[bytes.count / 3] ^= 0xFF
        cases.append(("one byte changed", flipped))
        for (name, data) in cases {
            let path = out.path + "/\(name).zip"
            try data.write(to: URL(fileURLWithPath: path))
            let error = await #expect(throws: (any Error).self, "\(name)") { try await Backup.verify(path, passphrase: Self.passphrase) }
            let reason = error.map { "\($0)" } ?? ""
            #expect(name == "one byte changed" || reason.contains("not a readable ZIP file"), "\(name): \(reason)")
            let target = TemporaryDirectory("airlock-backup-target")
            await #expect(throws: (any Error).self, "\(name)") {
                try await Backup.restore(path, passphrase: Self.passphrase, dataDirectory: target.path, replace: false)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: target.path).isEmpty, "\(name) left files behind")
        }
    }

    @Test func aManifestThatNamesAPathOutsideTheFormatIsRefused() {
        for path in ["../etc/passwd", "/etc/passwd", "license/../../x", "license/.hidden", "tls/other.key", "license/a/b", ""] {
            #expect(!Backup.isAllowedPath(path), "\(path)")
        }
        for path in ["airlock.sqlite", "tls/ca.key", "license/license-abc.lic", "config/airlock.toml"] {
            #expect(Backup.isAllowedPath(path), "\(path)")
        }
    }

    @Test func aShortPassphraseIsRefusedBeforeAnythingIsWritten() async throws {
        let source = try await Self.populated()
        let out = TemporaryDirectory("airlock-backup-out")
        await #expect(throws: AirlockError.self) {
            try await Backup.create(dataDirectory: source.path, configFile: nil, output: out.path + "/b.zip", passphrase: "short")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path + "/b.zip"))
    }
}
