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
