import AirlockCore
import AirlockStore
import Foundation

/// The database as it was just before an upgrade switched releases, kept under
/// `<data_dir>/upgrade-snapshots/<id>/` (same disk, same owner, same 0700 as the data it copies).
/// Secrets and keys are not copied: upgrades never change them. Migrations are the only thing an
/// upgrade does to data, so the snapshot is put back only when the release being left ran one.
public struct DataSnapshot: Codable, Sendable, Equatable {
    public var directory: String
    /// Heads of both chains in the snapshot: rows after them were written by the new release.
    public var ledgerSeq: Int64
    public var auditSeq: Int64
    public var ledgerHash: String?
    /// Migrations the database had recorded when the snapshot was taken.
    public var migrations: [String]

    static let databaseName = "airlock.sqlite"
    public static func folder(dataDirectory: String) -> String { dataDirectory + "/upgrade-snapshots" }

    /// Copies the live database with SQLite's online backup API (the daemon keeps serving) and
    /// verifies the copy's chains.
    static func take(dataDirectory: String, id: String) async throws -> DataSnapshot {
        let directory = folder(dataDirectory: dataDirectory) + "/" + id
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let copy = directory + "/" + databaseName
        try? FileManager.default.removeItem(atPath: copy)
        try Store(dataDirectory: dataDirectory, create: false).backup(to: copy)
        _ = chmod(copy, 0o600)
        let store = try Store(dataDirectory: directory, create: false)
        let ledger = try await store.verifyLedger()
        let audit = try await store.verifyAuditLog()
        guard ledger.isIntact, audit.isIntact else { throw BundleError("the database's chains do not verify; fix that before upgrading (airlock ledger verify)") }
        try AtomicFile.flush(copy)
        let snapshot = DataSnapshot(directory: directory, ledgerSeq: ledger.verifiedHead?.seq ?? 0, auditSeq: audit.verifiedHead?.seq ?? 0,
                                    ledgerHash: ledger.verifiedHead?.hash, migrations: try await store.appliedMigrations())
        // Beside the copy, so that a rollback by hand days later finds what it needs.
        try AtomicFile.write(try BundleManifest.encoder.encode(snapshot), to: directory + "/" + Upgrader.snapshotRecordName, mode: 0o600)
        DataOwner.adopt([folder(dataDirectory: dataDirectory), directory, copy, directory + "/" + Upgrader.snapshotRecordName], in: dataDirectory)
        DataOwner.adoptDatabase(in: dataDirectory)
        return snapshot
    }

    /// True when the live database has run migrations since the snapshot.
    func isOutgrown(dataDirectory: String) throws -> Bool {
        let live = dataDirectory + "/" + Store.databaseFileName
        guard FileManager.default.fileExists(atPath: live) else { return true }
        return try Store.recordedMigrations(databaseAt: live) != migrations.sorted()
    }

    /// Puts the snapshot back in place of the live database (the daemon must be stopped), then
    /// appends the usage and audit rows the database had gained since the snapshot. The live
    /// database is moved into the snapshot folder, never deleted. Safe to repeat after a crash:
    /// every round starts again from the snapshot and takes the tail from the first database it
    /// moved aside, the one the release being left wrote.
    func restore(dataDirectory: String) async throws -> (usageRows: Int, auditRows: Int, keptAt: String?) {
        let live = dataDirectory + "/" + Store.databaseFileName
        if FileManager.default.fileExists(atPath: live) {
            let aside = directory + "/replaced-\(Int(Date().timeIntervalSince1970 * 1000)).sqlite"
            for suffix in ["-wal", "-shm", ""] where FileManager.default.fileExists(atPath: live + suffix) {
                guard rename(live + suffix, aside + suffix) == 0 else { throw BundleError("cannot move \(live + suffix) aside") }
            }
            AtomicFile.flushDirectory(of: live)
        }
        let kept = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasPrefix("replaced-") && $0.hasSuffix(".sqlite") }.sorted().first.map { directory + "/" + $0 }
        let temporary = live + ".restoring"
        try? FileManager.default.removeItem(atPath: temporary)
        try FileManager.default.copyItem(atPath: directory + "/" + Self.databaseName, toPath: temporary)
        _ = chmod(temporary, 0o600)
        try AtomicFile.flush(temporary)
        guard rename(temporary, live) == 0 else { throw BundleError("cannot put the snapshot in place at \(live)") }
        AtomicFile.flushDirectory(of: live)

        DataOwner.adoptDatabase(in: dataDirectory)
        guard let kept else { return (0, 0, nil) }
        let tail = try Store.tail(databaseAt: kept, afterLedgerSeq: ledgerSeq, afterAuditSeq: auditSeq)
        try await Store(dataDirectory: dataDirectory, create: false).append(tail)
        DataOwner.adoptDatabase(in: dataDirectory)
        return (tail.usage.count, tail.audit.count, kept)
    }

    /// Removes all but the newest `keep` snapshot folders.
    static func prune(dataDirectory: String, keep: Int) {
        let root = folder(dataDirectory: dataDirectory)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
        for name in names.dropLast(keep) { try? FileManager.default.removeItem(atPath: root + "/" + name) }
    }
}
