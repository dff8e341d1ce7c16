import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import GRDB
import Synchronization
import Testing
@testable import AirlockBundles

/// The upgrade steps end to end against a fake machine: version policy, apply, automatic
/// rollback (with and without the snapshot put back), and recovery from an interrupted journal.
@Suite struct UpgraderTests {
    // MARK: - Version policy

    @Test func verifyRefusesTheInstalledVersion() async throws {
        let (fixture, upgrader, _) = try await Self.appliance(installed: ["1.0.0"])
        try expectRefusal(fixture, "release 1.0.0 is already installed") { try upgrader.verify(try fixture.bundle("1.0.0")) }
    }

    @Test func verifyRefusesADowngradeUnlessTheVendorSignedOne() async throws {
        let (fixture, upgrader, _) = try await Self.appliance(installed: ["1.0.0"])
        try expectRefusal(fixture, "older than the installed 1.0.0") { try upgrader.verify(try fixture.bundle("0.9.0")) }
        let bundle = try upgrader.verify(try fixture.bundle("0.9.0", allowDowngrade: true))
        #expect(bundle.manifest.version == release("0.9.0"))
    }

    @Test func verifyRefusesAnInstalledReleaseBelowTheMinimum() async throws {
        let (fixture, upgrader, _) = try await Self.appliance(installed: ["1.0.0"])
        try expectRefusal(fixture, "upgrades from 1.1.0 or later; 1.0.0 is installed") {
            try upgrader.verify(try fixture.bundle("1.2.0", minimumFrom: "1.1.0"))
        }
        #expect(try upgrader.verify(try fixture.bundle("1.2.0", minimumFrom: "1.0.0")).manifest.version == release("1.2.0"))
    }

    @Test func verifyRefusesADatabaseMigratedByANewerRelease() async throws {
        let (fixture, upgrader, _) = try await Self.appliance(installed: ["1.0.0"])
        try await Self.addFutureMigration(fixture.dataDirectory)
        try expectRefusal(fixture, "does not know (999_future)") { try upgrader.verify(try fixture.bundle("1.1.0")) }
    }

    @Test func verifyChecksEveryPayloadHash() async throws {
        let (fixture, upgrader, _) = try await Self.appliance(installed: ["1.0.0"])
        var (manifest, entries) = BundleFixture.honest("1.1.0")
        manifest.files[2].sha256 = BundleFixture.sha256(Data("something else".utf8))
        try expectRefusal(fixture, "bin/airlock-agent does not match its SHA-256") {
            try upgrader.verify(try fixture.craft(manifest: manifest, entries: entries))
        }
    }

    // MARK: - Apply

    @Test func applySwitchesRestartsOnceAuditsAndPrunesOldReleases() async throws {
        let (fixture, upgrader, host) = try await Self.appliance(installed: ["1.0.0", "1.0.1", "1.0.2"])
        let outcome = try await upgrader.apply(try fixture.bundle("1.1.0"))
        #expect(outcome == .upgraded(from: release("1.0.2"), to: release("1.1.0")))
        #expect(try fixture.prefix.currentVersion() == release("1.1.0"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: fixture.prefix.root + "/current") == "releases/1.1.0")
        #expect(!FileManager.default.fileExists(atPath: fixture.prefix.root + "/upgrade-journal.json"))
        #expect(host.commands == [FakeHost.restart])
        #expect(host.audits == ["upgrade.start", "upgrade.apply"])
        #expect(try await Self.auditActions(fixture.dataDirectory).suffix(2) == ["upgrade.start", "upgrade.apply"])
        // keep_releases = 3: the two the upgrade moved between, and the newest other one.
        #expect(fixture.prefix.installedVersions() == ["1.0.1", "1.0.2", "1.1.0"].map(release))
        #expect(host.steps == ["upgrade.started", "upgrade.staged", "upgrade.snapshotted", "upgrade.switching", "upgrade.switched", "upgrade.restarted"])
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: DataSnapshot.folder(dataDirectory: fixture.dataDirectory))
        #expect(snapshots.count == 1 && snapshots[0].hasSuffix("-1.0.2-to-1.1.0"))
    }

    @Test func installRefusesAPrefixThatIsAlreadyInstalled() async throws {
        let (fixture, upgrader, _) = try await Self.appliance(installed: ["1.0.0"])
        try expectRefusal(fixture, "this prefix is installed") { _ = try upgrader.install(try fixture.bundle("1.1.0")) }
        let fresh = BundleFixture()
        let installer = Upgrader(prefix: fresh.prefix, dataDirectory: fresh.dataDirectory, settings: FakeHost.settings, keys: fresh.keys,
                                 host: FakeHost(dataDirectory: fresh.dataDirectory))
        #expect(try installer.install(try fresh.bundle("1.0.0")) == release("1.0.0"))
        #expect(try fresh.prefix.currentVersion() == release("1.0.0"))
    }

    @Test func aFailedSmokeTestWithoutMigrationsRollsBackWithoutStoppingTheDaemon() async throws {
        let host = FakeHost(failSmokeTestOn: release("1.1.0"))
        let (fixture, upgrader, _) = try await Self.appliance(installed: ["1.0.0"], host: host)
        let outcome = try await upgrader.apply(try fixture.bundle("1.1.0"))
        guard case let .rolledBack(from, to, reason) = outcome else { Issue.record("expected a rollback, got \(outcome)"); return }
        #expect(from == release("1.0.0") && to == release("1.1.0"))
        #expect(reason.contains("smoke test failed"))
        #expect(try fixture.prefix.currentVersion() == release("1.0.0"))
        #expect(host.commands == [FakeHost.restart, FakeHost.restart], "no stop: the snapshot is not needed")
        #expect(host.audits == ["upgrade.start", "upgrade.rollback"])
        #expect(!FileManager.default.fileExists(atPath: fixture.prefix.root + "/upgrade-journal.json"))
        #expect(fixture.prefix.installedVersions() == ["1.0.0", "1.1.0"].map(release), "the new release stays staged")
    }

    @Test func aFailedRestartRollsBack() async throws {
        let host = FakeHost(failFirstRestart: true)
        let (fixture, upgrader, _) = try await Self.appliance(installed: ["1.0.0"], host: host)
        let outcome = try await upgrader.apply(try fixture.bundle("1.1.0"))
        guard case let .rolledBack(_, _, reason) = outcome else { Issue.record("expected a rollback, got \(outcome)"); return }
        #expect(reason.contains("restart failed"))
        #expect(try fixture.prefix.currentVersion() == release("1.0.0"))
        #expect(host.commands == [FakeHost.restart, FakeHost.restart])
        #expect(host.audits == ["upgrade.start", "upgrade.rollback"])
    }

    @Test func aFailedSmokeTestAfterMigrationsRestoresTheSnapshotAndCarriesTheNewRows() async throws {
        let newUsageIDs = Shared<[String]>([])
        let host = FakeHost(failSmokeTestOn: release("1.1.0"))
        let (fixture, upgrader, _) = try await Self.appliance(installed: ["1.0.0"], host: host)
        let data = fixture.dataDirectory
        host.onRestart { count in
            guard count == 1 else { return }
            let ids = try await Self.actAsNewRelease(data, usageRows: 7)
            newUsageIDs.update { $0 = ids }
        }
        let outcome = try await upgrader.apply(try fixture.bundle("1.1.0"))
        guard case .rolledBack = outcome else { Issue.record("expected a rollback, got \(outcome)"); return }
        #expect(try fixture.prefix.currentVersion() == release("1.0.0"))
        #expect(host.commands == [FakeHost.restart, FakeHost.stop, FakeHost.restart])
        #expect(host.audits == ["upgrade.start", "upgrade.rollback"])

        let live = data + "/" + Store.databaseFileName
        #expect(try Store.recordedMigrations(databaseAt: live) == Store.knownMigrations.sorted())
        let store = try Store(dataDirectory: data, create: false)
        #expect(try await store.verifyLedger().isIntact)
        #expect(try await store.verifyAuditLog().isIntact)

        let folders = try FileManager.default.contentsOfDirectory(atPath: DataSnapshot.folder(dataDirectory: data))
        #expect(folders.count == 1)
        let folder = DataSnapshot.folder(dataDirectory: data) + "/" + folders[0]
        let snapshot = try JSONDecoder().decode(DataSnapshot.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/snapshot.json")))
        let tail = try Store.tail(databaseAt: live, afterLedgerSeq: snapshot.ledgerSeq, afterAuditSeq: snapshot.auditSeq)
        #expect(newUsageIDs.value.count == 7)
        #expect(tail.usage.map(\.usageID) == newUsageIDs.value)
        #expect(tail.audit.map(\.action) == ["test.new-release", "upgrade.rollback"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).contains { $0.hasPrefix("replaced-") && $0.hasSuffix(".sqlite") })
    }

    @Test func aRollbackByHandAfterMigrationsPutsTheSnapshotBackAndCarriesTheNewRows() async throws {
        let newUsageIDs = Shared<[String]>([])
        let host = FakeHost()
        let (fixture, upgrader, _) = try await Self.appliance(installed: ["1.0.0"], host: host)
        let data = fixture.dataDirectory
        host.onRestart { count in
            guard count == 1 else { return }
            let ids = try await Self.actAsNewRelease(data, usageRows: 3)
            newUsageIDs.update { $0 = ids }
        }
        #expect(try await upgrader.apply(try fixture.bundle("1.1.0")) == .upgraded(from: release("1.0.0"), to: release("1.1.0")))
        #expect(try await upgrader.rollback() == release("1.0.0"))
        #expect(try fixture.prefix.currentVersion() == release("1.0.0"))
        #expect(host.commands == [FakeHost.restart, FakeHost.stop, FakeHost.restart])
        let live = data + "/" + Store.databaseFileName
        #expect(try !Store.recordedMigrations(databaseAt: live).contains("999_future"))
        let snapshot = try #require(try upgrader.latestSnapshot(from: release("1.0.0"), to: release("1.1.0")))
        let tail = try Store.tail(databaseAt: live, afterLedgerSeq: snapshot.ledgerSeq, afterAuditSeq: snapshot.auditSeq)
        #expect(tail.usage.map(\.usageID) == newUsageIDs.value && newUsageIDs.value.count == 3)
        #expect(try await Store(dataDirectory: data, create: false).verifyLedger().isIntact)
    }

    @Test func aRollbackByHandIsRefusedWhenMigrationsRanAndNoSnapshotIsLeft() async throws {
        let (fixture, upgrader, host) = try await Self.appliance(installed: ["1.0.0", "1.1.0"])
        try await Self.addFutureMigration(fixture.dataDirectory)
        let before = TreeState.of(fixture.prefix.root)
        let error = await #expect(throws: BundleError.self) { try await upgrader.rollback() }
        #expect(error?.description.contains("no snapshot from the upgrade 1.0.0 → 1.1.0 is left") == true, "\(String(describing: error))")
        #expect(TreeState.of(fixture.prefix.root) == before)
        #expect(host.commands.isEmpty)
    }

    // MARK: - Recover

    @Test(arguments: [UpgradeJournal.Phase.started, .staged, .snapshotted, .switching])
    func recoverAbandonsAnUpgradeStoppedBeforeSwitching(phase: UpgradeJournal.Phase) async throws {
        let (fixture, upgrader, host) = try await Self.appliance(installed: ["1.1.0", "1.0.0"])
        try Self.journal(.upgrade, phase: phase).write(fixture.prefix)
        let done = try await upgrader.recover()
        #expect(done?.contains("stopped before switching releases; 1.0.0 stays current") == true, "\(String(describing: done))")
        #expect(try fixture.prefix.currentVersion() == release("1.0.0"))
        #expect(!FileManager.default.fileExists(atPath: fixture.prefix.root + "/upgrade-journal.json"))
        #expect(host.audits == ["upgrade.abandon"])
        #expect(host.commands.isEmpty)
        #expect(try await upgrader.recover() == nil, "nothing left to recover")
    }

    @Test func recoverRollsBackAnUpgradeThatHadSwitched() async throws {
        let (fixture, upgrader, host) = try await Self.appliance(installed: ["1.0.0", "1.1.0"])
        try Self.journal(.upgrade, phase: .switched).write(fixture.prefix)
        let done = try await upgrader.recover()
        #expect(done?.contains("1.0.0 is current") == true, "\(String(describing: done))")
        #expect(try fixture.prefix.currentVersion() == release("1.0.0"))
        #expect(host.commands == [FakeHost.restart])
        #expect(host.audits == ["upgrade.rollback"])
        #expect(!FileManager.default.fileExists(atPath: fixture.prefix.root + "/upgrade-journal.json"))
    }

    @Test func recoverRollsBackAnUpgradeInterruptedWhileSwitchingOnceCurrentMoved() async throws {
        let (fixture, upgrader, host) = try await Self.appliance(installed: ["1.0.0", "1.1.0"])
        try Self.journal(.upgrade, phase: .switching).write(fixture.prefix)
        _ = try await upgrader.recover()
        #expect(try fixture.prefix.currentVersion() == release("1.0.0"))
        #expect(host.audits == ["upgrade.rollback"])
    }

    @Test func recoverFinishesARollbackWhoseSnapshotIsBackWithoutRestoringAgain() async throws {
        let (fixture, upgrader, host) = try await Self.appliance(installed: ["1.0.0", "1.1.0"])
        // Migrations that differ from the live database's: before `.restored` this would be put back.
        let snapshot = DataSnapshot(directory: fixture.dir.child("no-such-snapshot"), ledgerSeq: 1, auditSeq: 1, ledgerHash: nil,
                                    migrations: ["000_not_the_live_ones"])
        try Self.journal(.rollback, phase: .restored, snapshot: snapshot).write(fixture.prefix)
        let done = try await upgrader.recover()
        #expect(done?.contains("1.0.0 is current") == true)
        #expect(try fixture.prefix.currentVersion() == release("1.0.0"))
        #expect(host.commands == [FakeHost.restart], "no stop, no second restore")
        #expect(host.audits == ["upgrade.rollback"])
        #expect(!FileManager.default.fileExists(atPath: fixture.prefix.root + "/upgrade-journal.json"))
    }

    @Test func applyAndRollbackRefuseWhileAJournalSaysSomethingWasInterrupted() async throws {
        let (fixture, upgrader, host) = try await Self.appliance(installed: ["1.0.0"])
        try Self.journal(.upgrade, phase: .staged).write(fixture.prefix)
        let bundle = try fixture.bundle("1.2.0")
        let before = TreeState.of(fixture.prefix.root)
        let error = await #expect(throws: BundleError.self) { try await upgrader.apply(bundle) }
        #expect(error?.description.contains("an upgrade to 1.1.0 was interrupted; run `airlock upgrade recover` first") == true)
        await #expect(throws: BundleError.self) { try await upgrader.rollback() }
        #expect(TreeState.of(fixture.prefix.root) == before)
        #expect(host.commands.isEmpty && host.audits.isEmpty)
        #expect(try upgrader.interrupted() == "upgrade 1.0.0 → 1.1.0 stopped after step 'staged'")
    }

    // MARK: - Snapshot restore

    @Test func restoringTheSnapshotTwiceCarriesTheNewRowsExactlyOnce() async throws {
        let fixture = BundleFixture()
        try await Self.populate(fixture.dataDirectory)
        let snapshot = try await DataSnapshot.take(dataDirectory: fixture.dataDirectory, id: "1-1.0.0-to-1.1.0")
        let ids = try await Self.actAsNewRelease(fixture.dataDirectory, usageRows: 5)
        #expect(try snapshot.isOutgrown(dataDirectory: fixture.dataDirectory))

        let first = try await snapshot.restore(dataDirectory: fixture.dataDirectory)
        #expect(first.usageRows == 5 && first.auditRows == 1)
        // A crash before the journal recorded `.restored`: the whole step runs again.
        let second = try await snapshot.restore(dataDirectory: fixture.dataDirectory)
        #expect(second.usageRows == 5 && second.auditRows == 1 && second.keptAt == first.keptAt)

        let live = fixture.dataDirectory + "/" + Store.databaseFileName
        #expect(try !Store.recordedMigrations(databaseAt: live).contains("999_future"))
        let tail = try Store.tail(databaseAt: live, afterLedgerSeq: snapshot.ledgerSeq, afterAuditSeq: snapshot.auditSeq)
        #expect(tail.usage.map(\.usageID) == ids)
        #expect(tail.audit.map(\.action) == ["test.new-release"])
        let store = try Store(dataDirectory: fixture.dataDirectory, create: false)
        #expect(try await store.verifyLedger().isIntact)
        #expect(try await store.verifyAuditLog().isIntact)
        let replaced = try FileManager.default.contentsOfDirectory(atPath: snapshot.directory).filter { $0.hasPrefix("replaced-") && $0.hasSuffix(".sqlite") }
        #expect(replaced.count == 2, "each round keeps the database it replaced")
    }

    /// The snapshot copied into place, the rows not yet carried: the live database now records the
    /// snapshot's migrations, so `isOutgrown` says false; the journal's `.restoring` is what says
    /// the tail is still owed.
    @Test
    func recoverAfterACrashBeforeTheRowsWereCarriedStillCarriesThem() async throws {
        let (fixture, upgrader, _) = try await Self.appliance(installed: ["1.0.0", "1.1.0"])
        let data = fixture.dataDirectory
        let snapshot = try await DataSnapshot.take(dataDirectory: data, id: "1-1.0.0-to-1.1.0")
        let ids = try await Self.actAsNewRelease(data, usageRows: 4)
        // What `restore` has done when the crash comes: the live database moved aside, the copy in place.
        let live = data + "/" + Store.databaseFileName
        for suffix in ["-wal", "-shm", ""] where FileManager.default.fileExists(atPath: live + suffix) {
            try FileManager.default.moveItem(atPath: live + suffix, toPath: snapshot.directory + "/replaced-1000000000000.sqlite" + suffix)
        }
        try FileManager.default.copyItem(atPath: snapshot.directory + "/" + DataSnapshot.databaseName, toPath: live)
        try Self.journal(.rollback, phase: .restoring, snapshot: snapshot).write(fixture.prefix)

        _ = try await upgrader.recover()
        let tail = try Store.tail(databaseAt: live, afterLedgerSeq: snapshot.ledgerSeq, afterAuditSeq: snapshot.auditSeq)
        #expect(tail.usage.map(\.usageID) == ids)
    }

    // MARK: - Fixtures

    /// An appliance whose prefix has `installed` staged (the last one current), a database with
    /// ledger and audit rows, and an upgrader driven by `host`.
    static func appliance(installed: [String], host: FakeHost? = nil) async throws -> (BundleFixture, Upgrader, FakeHost) {
        let fixture = BundleFixture()
        for version in installed { try fixture.install(version) }
        try await populate(fixture.dataDirectory)
        let host = host ?? FakeHost()
        host.dataDirectory.update { $0 = fixture.dataDirectory }
        let upgrader = Upgrader(prefix: fixture.prefix, dataDirectory: fixture.dataDirectory, settings: FakeHost.settings, keys: fixture.keys, host: host)
        return (fixture, upgrader, host)
    }

    static func populate(_ dataDirectory: String) async throws {
        let store = try Store(dataDirectory: dataDirectory)
        _ = try await LedgerAppender(store: store, maxBatch: 64).append(contentsOf: (0..<20).map { Samples.usage($0) })
        for index in 0..<3 {
            _ = try await store.write { tx in
                try tx.audit(AuditEntry(timestamp: UnixMillis(1_800_000_000_000 + Int64(index)), actor: "cli:test", action: "org.create",
                                        targetType: "org", targetID: "org_\(index)", before: nil, after: "{}"))
            }
        }
    }

    /// What a newer release does once it runs: serves requests, writes an audit row, and has
    /// migrated the schema past what this build knows. Returns the new usage ids.
    static func actAsNewRelease(_ dataDirectory: String, usageRows: Int) async throws -> [String] {
        let records = (0..<usageRows).map { Samples.usage(1_000 + $0) }
        let store = try Store(dataDirectory: dataDirectory, create: false)
        _ = try await LedgerAppender(store: store, maxBatch: 64).append(contentsOf: records)
        _ = try await store.write { tx in
            try tx.audit(AuditEntry(timestamp: .now(), actor: "cli:new-release", action: "test.new-release", targetType: "org",
                                    targetID: "org_new", before: nil, after: "{}"))
        }
        try await addFutureMigration(dataDirectory)
        return records.map(\.usageID)
    }

    static func addFutureMigration(_ dataDirectory: String) async throws {
        let queue = try DatabaseQueue(path: dataDirectory + "/" + Store.databaseFileName)
        try await queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES ('999_future')") }
        try queue.close()
    }

    static func auditActions(_ dataDirectory: String) async throws -> [String] {
        try Store.tail(databaseAt: dataDirectory + "/" + Store.databaseFileName, afterLedgerSeq: .max, afterAuditSeq: 0).audit.map(\.action)
    }

    /// A journal of a move between 1.0.0 and 1.1.0, as the upgrader writes it.
    static func journal(_ operation: UpgradeJournal.Operation, phase: UpgradeJournal.Phase, snapshot: DataSnapshot? = nil) -> UpgradeJournal {
        UpgradeJournal(id: "1-1.0.0-to-1.1.0", operation: operation, from: release("1.0.0"), to: release("1.1.0"), phase: phase,
                       snapshot: snapshot, startedAt: 1_800_000_000, reason: nil)
    }
}

/// Expects `body` to throw a `BundleError` naming `phrase`, with the prefix unchanged.
func expectRefusal(_ fixture: BundleFixture, _ phrase: String, sourceLocation: SourceLocation = #_sourceLocation,
                   _ body: () throws -> Void) throws {
    let before = TreeState.of(fixture.prefix.root)
    let error = #expect(throws: BundleError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.description.contains(phrase) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
    let after = TreeState.of(fixture.prefix.root)
    #expect(after == before, "the prefix changed: \(before.difference(from: after))", sourceLocation: sourceLocation)
}

/// The machine an upgrade runs on, faked: records what it is asked to do, writes audit rows when
/// this build knows the database's schema (as the real host does), and fails where told to.
final class FakeHost: UpgradeHost {
    static let restart = ["fake-systemctl", "restart", "airlockd.service"]
    static let stop = ["fake-systemctl", "stop", "airlockd.service"]
    static let settings: UpgradeSettings = {
        var settings = UpgradeSettings()
        settings.restartCommand = restart
        settings.stopCommand = stop
        settings.readyTimeoutSeconds = 1
        return settings
    }()

    struct Record {
        var commands: [[String]] = []
        var audits: [String] = []
        var progress: [String] = []
        var steps: [String] = []
        var restarts = 0
        var onRestart: (@Sendable (Int) async throws -> Void)?
    }

    let dataDirectory: Shared<String>
    let failFirstRestart: Bool
    let failSmokeTestOn: ReleaseVersion?
    private let record = Mutex(Record())

    init(dataDirectory: String = "", failFirstRestart: Bool = false, failSmokeTestOn: ReleaseVersion? = nil) {
        self.dataDirectory = Shared(dataDirectory)
        (self.failFirstRestart, self.failSmokeTestOn) = (failFirstRestart, failSmokeTestOn)
    }

    /// Runs `hook` inside each restart, with the restart's number: the new release's behaviour.
    func onRestart(_ hook: @escaping @Sendable (Int) async throws -> Void) { record.withLock { $0.onRestart = hook } }

    var commands: [[String]] { record.withLock { $0.commands } }
    var audits: [String] { record.withLock { $0.audits } }
    var steps: [String] { record.withLock { $0.steps } }

    func run(_ command: [String], purpose: String) async throws {
        let (number, hook) = record.withLock { record in
            record.commands.append(command)
            if command == Self.restart { record.restarts += 1 }
            return (record.restarts, record.onRestart)
        }
        guard command == Self.restart else { return }
        try await hook?(number)
        if failFirstRestart && number == 1 { throw BundleError("restart failed (fake host)") }
    }

    func waitUntilReady(timeoutSeconds: Int) async throws {}

    func smokeTest(expecting release: ReleaseVersion) async throws {
        if release == failSmokeTestOn { throw BundleError("smoke test failed: the fake daemon does not answer as \(release)") }
    }

    func audit(action: String, from: ReleaseVersion?, to: ReleaseVersion, detail: [String: String], release: String) async throws {
        record.withLock { $0.audits.append(action) }
        let data = dataDirectory.value
        let recorded = Set(try Store.recordedMigrations(databaseAt: data + "/" + Store.databaseFileName))
        guard recorded.isSubset(of: Store.knownMigrations) else { return }
        let entry = AuditEntry(timestamp: .now(), actor: "cli:test", action: action, targetType: "release", targetID: to.description,
                               before: from?.description, after: detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))
        _ = try await Store(dataDirectory: data, create: false).write { try $0.audit(entry) }
    }

    func progress(_ line: String) { record.withLock { $0.progress.append(line) } }

    func reached(_ step: String) { record.withLock { $0.steps.append(step) } }
}
