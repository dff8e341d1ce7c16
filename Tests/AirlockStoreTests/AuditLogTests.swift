import AirlockCore
import AirlockStore
import AirlockTestSupport
import Testing

@Suite struct AuditLogTests {
    static func entry(_ index: Int) -> AuditEntry {
        AuditEntry(timestamp: UnixMillis(1_800_000_000_000 + Int64(index)), actor: "cli:test", action: "org.create",
                   targetType: "org", targetID: "org_\(index)", before: nil, after: "{\"n\":\(index)}")
    }

    static func auditLog(rows: Int) async throws -> StoreFixture {
        let dir = TemporaryDirectory()
        let store = try Store(dataDirectory: dir.path)
        for index in 0..<rows { _ = try await store.write { try $0.audit(entry(index)) } }
        return StoreFixture(dir: dir, store: store)
    }

    @Test func appendsFormAnIntactChain() async throws {
        let f = try await Self.auditLog(rows: 5)
        let report = try await f.store.verifyAuditLog()
        #expect(report.isIntact && report.rowsChecked == 5)
    }

    @Test func updateAndDeleteAreRefused() async throws {
        let f = try await Self.auditLog(rows: 2)
        #expect(Tampering.attempt(databasePath: f.store.path, "UPDATE audit_log SET actor = 'x'")?.contains("append-only") == true)
        #expect(Tampering.attempt(databasePath: f.store.path, "DELETE FROM audit_log")?.contains("append-only") == true)
    }

    @Test func anEditedActorIsCaught() async throws {
        let f = try await Self.auditLog(rows: 5)
        try Tampering.run(databasePath: f.store.path, table: "audit_log", "UPDATE audit_log SET actor = 'cli:someone-else' WHERE seq = 3")
        let report = try await f.store.verifyAuditLog()
        #expect(report.firstBreak?.seq == 3 && report.firstBreak?.kind == .contentMismatch)
    }

    @Test func aWriteThatFailsLeavesNoAuditRow() async throws {
        let f = try await Self.auditLog(rows: 1)
        struct Abort: Error {}
        await #expect(throws: Abort.self) {
            try await f.store.write { tx in
                try tx.audit(Self.entry(99))
                throw Abort()
            }
        }
        #expect(try await f.store.verifyAuditLog().rowsChecked == 1)
    }
}
