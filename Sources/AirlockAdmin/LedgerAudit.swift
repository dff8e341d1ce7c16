import AirlockCore
import AirlockStore

/// The read-only side of administration: verifying the hash chains and reading the audit trail.
///
/// Kept apart from ``AdminActions`` because it needs the database only — not the key-hashing
/// secret — so an auditor can verify a copy of `airlock.sqlite` without the appliance's secrets.
public struct LedgerAudit: Sendable {
    let store: Store

    public init(store: Store) { self.store = store }

    /// Recomputes the usage ledger's hash chain; names the first bad row if there is one.
    public func verifyLedger() async throws -> ChainReport {
        try await store.verifyLedger()
    }

    /// Recomputes the audit log's hash chain; names the first bad row if there is one.
    public func verifyAuditLog() async throws -> ChainReport {
        try await store.verifyAuditLog()
    }

    /// The newest `limit` audit rows (oldest first), optionally about one target id.
    public func auditTrail(targetID: String?, limit: Int) async throws -> [AuditEntry] {
        try await store.read { try $0.auditTrail(targetID: targetID, limit: limit) }
    }
}
