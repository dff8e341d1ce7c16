import AirlockCore
import Foundation

/// What an upgrade or rollback in progress has done so far, rewritten (flushed, renamed) before
/// each step that changes something. After a crash, ``Upgrader/recover()`` reads it and ends on
/// the old release or the new one, never between.
struct UpgradeJournal: Codable, Sendable, Equatable {
    enum Operation: String, Codable, Sendable { case upgrade, rollback }

    /// Steps in order; each is recorded once it is done.
    enum Phase: Int, Codable, Sendable, Comparable {
        case started, staged, snapshotted, switching, switched, restarted
        /// Rollback only: putting the snapshot back has begun; then, it is back and the tail carried.
        case restoring, restored

        static func < (lhs: Phase, rhs: Phase) -> Bool { lhs.rawValue < rhs.rawValue }
        var name: String { String(describing: self) }
    }

    var id: String
    var operation: Operation
    var from: ReleaseVersion
    var to: ReleaseVersion
    var phase: Phase
    var snapshot: DataSnapshot?
    var startedAt: Int64
    /// Why a rollback runs: the failed step's message, or "by hand".
    var reason: String?

    static func read(_ prefix: ReleasePrefix) throws -> UpgradeJournal? {
        guard FileManager.default.fileExists(atPath: prefix.journalPath) else { return nil }
        guard let data = FileManager.default.contents(atPath: prefix.journalPath) else {
            throw BundleError("\(prefix.journalPath) exists but cannot be read: run airlock upgrade as root")
        }
        do {
            return try JSONDecoder().decode(UpgradeJournal.self, from: data)
        } catch {
            throw BundleError("\(prefix.journalPath) cannot be read (\(error)); compare current with the audit log and remove it by hand")
        }
    }

    func write(_ prefix: ReleasePrefix) throws {
        try AtomicFile.write(try BundleManifest.encoder.encode(self), to: prefix.journalPath, mode: 0o600)
    }

    static func clear(_ prefix: ReleasePrefix) {
        unlink(prefix.journalPath)
        AtomicFile.flushDirectory(of: prefix.journalPath)
    }
}
