import AirlockCore
import AirlockStore

extension AdminActions {
    /// Recomputes the usage ledger's hash chain; names the first bad row if there is one.
    public func verifyLedger() async throws -> ChainReport {
        try await store.verifyLedger()
    }

    /// Recomputes the audit log's hash chain; names the first bad row if there is one.
    public func verifyAuditLog() async throws -> ChainReport {
        try await store.verifyAuditLog()
    }
}

extension AdminActions {
    /// The newest `limit` audit rows (oldest first), optionally about one target id.
    public func auditTrail(targetID: String?, limit: Int) async throws -> [AuditEntry] {
        try await store.read { try $0.auditTrail(targetID: targetID, limit: limit) }
    }
}
