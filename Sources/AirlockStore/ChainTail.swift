import AirlockCore
import Foundation
import GRDB

/// The rows a database gained after a point in its chains, read from a database file this build
/// may not be able to open as a ``Store`` (a newer release migrated it). Used when an upgrade is
/// rolled back onto the pre-upgrade snapshot: the usage and audit rows the new release wrote in
/// the meantime are appended again to the restored chains, so no served request goes unbilled.
public struct ChainTail: Sendable {
    public var usage: [UsageRecord]
    public var audit: [AuditEntry]
}

extension Store {
    /// Every migration recorded in the database at `path`, known to this build or not. Read-only.
    public static func recordedMigrations(databaseAt path: String) throws -> [String] {
        try readOnly(path) { db in
            guard try db.tableExists("grdb_migrations") else { return [] }
            return try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        }
    }

    /// Ledger rows after `ledgerSeq` and audit rows after `auditSeq` in the database at `path`.
    /// Read with this build's column names: a newer release may add columns, never rename them
    /// (migrations are append-only), so the rows decode.
    public static func tail(databaseAt path: String, afterLedgerSeq ledgerSeq: Int64, afterAuditSeq auditSeq: Int64) throws -> ChainTail {
        try readOnly(path) { db in
            let usage = try Row.fetchAll(db, sql: "SELECT * FROM usage_ledger WHERE seq > ? ORDER BY seq", arguments: [ledgerSeq])
                .map(Ledger.record(row:))
            let audit = try Row.fetchAll(db, sql: "SELECT * FROM audit_log WHERE seq > ? ORDER BY seq", arguments: [auditSeq])
                .map(AuditLog.entry(row:))
            return ChainTail(usage: usage, audit: audit)
        }
    }

    /// Appends `tail` to this database's chains: usage rows through the ledger's own append path
    /// (new seq and hashes, same usage ids), audit rows as they were, each in order.
    public func append(_ tail: ChainTail) async throws {
        if !tail.usage.isEmpty {
            _ = try await LedgerAppender(store: self, maxBatch: 512).append(contentsOf: tail.usage)
        }
        let audit = tail.audit
        try await write { writer in
            for entry in audit { _ = try writer.audit(entry) }
        }
    }

    private static func readOnly<T>(_ path: String, _ body: (Database) throws -> T) throws -> T {
        var configuration = Configuration()
        configuration.readonly = true
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            return try queue.read(body)
        } catch {
            throw AirlockError.storage("cannot read \(path): \(error)")
        }
    }
}
