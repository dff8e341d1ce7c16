import AirlockCore
import GRDB

/// The hash-chained, append-only record of every admin action.
///
/// Rows are appended inside the transaction that makes the change they describe, so there is
/// never a change without its audit row, nor an audit row for a change that rolled back. SQLite
/// serialises writers, so reading the head and inserting after it cannot race.
enum AuditLog {
    static func append(_ entry: AuditEntry, in db: Database) throws -> ChainPosition {
        let head = try ChainHead.read(table: "audit_log", db: db)
        let seq = head.seq + 1
        let hash = ChainedRows.auditDigest(entry).linked(seq: seq, prevHash: head.hash)
        try db.execute(
            sql: """
                INSERT INTO audit_log (seq, ts, actor, action, target_type, target_id, before_json, after_json, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                seq, entry.timestamp.value, entry.actor, entry.action, entry.targetType, entry.targetID,
                entry.before, entry.after, head.hash, hash,
            ])
        return ChainPosition(seq: seq, prevHash: head.hash, hash: hash)
    }

    static func entry(row: Row) -> AuditEntry {
        AuditEntry(
            timestamp: UnixMillis(row["ts"] as Int64), actor: row["actor"], action: row["action"],
            targetType: row["target_type"], targetID: row["target_id"], before: row["before_json"],
            after: row["after_json"])
    }
}

/// The last row of a chain: its `seq` and `hash`, or 0 and the genesis hash when empty.
struct ChainHead {
    var seq: Int64
    var hash: String

    static func read(table: String, db: Database) throws -> ChainHead {
        // Cached: this runs at every ledger commit, and preparing it each time showed in profiles.
        if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, hash FROM \(table) ORDER BY seq DESC LIMIT 1")) {
            return ChainHead(seq: row["seq"], hash: row["hash"])
        }
        return ChainHead(seq: 0, hash: ChainPosition.genesisHash)
    }
}

extension TenancyReader {
    /// Audit rows oldest first, optionally only those about one target id, at most `limit`
    /// newest ones when a limit is given.
    public func auditTrail(targetID: String? = nil, limit: Int? = nil) throws -> [AuditEntry] {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT * FROM (
                    SELECT * FROM audit_log WHERE (?1 IS NULL OR target_id = ?1) ORDER BY seq DESC LIMIT ?2
                ) ORDER BY seq
                """,
            arguments: [targetID, limit ?? -1])
        return rows.map(AuditLog.entry(row:))
    }
}

/// An audit row with its place in the chain, for paging through the log.
public struct AuditRecord: Sendable, Encodable {
    public var seq: Int64
    public var entry: AuditEntry
}

extension TenancyReader {
    /// A page of the audit log, newest first: rows before `beforeSeq` (all when nil), optionally
    /// only those whose action starts with `actionPrefix` or whose actor is `actor`.
    public func auditPage(beforeSeq: Int64?, limit: Int, actionPrefix: String? = nil, actor: String? = nil) throws -> [AuditRecord] {
        try Row.fetchAll(db, sql: """
            SELECT * FROM audit_log
            WHERE (?1 IS NULL OR seq < ?1) AND (?2 IS NULL OR substr(action, 1, length(?2)) = ?2) AND (?3 IS NULL OR actor = ?3)
            ORDER BY seq DESC LIMIT ?4
            """, arguments: [beforeSeq, actionPrefix, actor, limit]).map { AuditRecord(seq: $0["seq"], entry: AuditLog.entry(row: $0)) }
    }
}
