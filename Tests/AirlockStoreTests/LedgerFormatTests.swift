import AirlockCore
import AirlockTestSupport
import Foundation
import GRDB
import Testing

@testable import AirlockStore

/// Ledger format 2 (the `failover` mark) on an appliance whose ledger already holds format-1 rows.
@Suite struct LedgerFormatTests {
    let dir = TemporaryDirectory()

    /// A database migrated only up to 007 (before format 2), holding `count` format-1 rows
    /// written the way that version wrote them.
    func olderAppliance(rows count: Int) throws {
        let queue = try DatabaseQueue(path: dir.child(Store.databaseFileName))
        try Migrations.migrator.migrate(queue, upTo: "007_catalog_generation")
        try queue.write { db in
            var prev = ChainPosition.genesisHash
            for index in 0..<count {
                let record = Samples.usage(index)
                let seq = Int64(index + 1)
                let hash = ChainedRows.ledgerDigest(record, format: 1).linked(seq: seq, prevHash: prev)
                try db.execute(sql: """
                    INSERT INTO usage_ledger (seq, usage_id, request_id, ts, org_id, env_id, key_id, zone, model, node,
                        prompt_tokens, completion_tokens, total_tokens, latency_ms, cost_micros, streamed, finish_reason,
                        token_source, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [seq, record.usageID, record.requestID, record.timestamp.value, record.orgID.rawValue,
                                     record.envID.rawValue, record.keyID.rawValue, record.zone, record.model, record.node,
                                     record.promptTokens, record.completionTokens, record.totalTokens, record.latencyMillis,
                                     record.costMicros, record.streamed, record.finishReason, record.tokenSource.rawValue, prev, hash])
                prev = hash
            }
        }
    }

    /// The older appliance upgraded (migration 008 runs on open) with three format-2 rows after.
    func upgraded() async throws -> Store {
        try olderAppliance(rows: 3)
        let store = try Store(dataDirectory: dir.path)
        let appender = LedgerAppender(store: store, maxBatch: 8)
        for index in 3..<6 {
            var record = Samples.usage(index)
            record.failover = index == 4
            _ = try await appender.append(record)
        }
        return store
    }

    var database: String { dir.child(Store.databaseFileName) }

    @Test func anUpgradedLedgerKeepsItsOldRowsAndVerifiesAcrossBothFormats() async throws {
        let store = try await upgraded()
        let report = try await store.verifyLedger()
        #expect(report.isIntact && report.rowsChecked == 6, "\(String(describing: report.firstBreak))")
        #expect(try Tampering.count(databasePath: database, "SELECT group_concat(format || ':' || failover, ',') = '1:0,1:0,1:0,2:0,2:1,2:0' FROM usage_ledger") == 1)
    }

    @Test func theFailoverMarkIsInTheHash() async throws {
        let store = try await upgraded()
        try Tampering.run(databasePath: database, table: "usage_ledger", "UPDATE usage_ledger SET failover = 0 WHERE seq = 5")
        let report = try await store.verifyLedger()
        #expect(report.firstBreak?.seq == 5 && report.firstBreak?.kind == .contentMismatch)
    }

    @Test func relabellingARowToTheOlderFormatIsABreak() async throws {
        let store = try await upgraded()
        // The database refuses to append an older-format row after a newer one...
        let refusal = Tampering.attempt(databasePath: database, """
            INSERT INTO usage_ledger (seq, usage_id, request_id, ts, org_id, env_id, key_id, zone, model, node, prompt_tokens,
                completion_tokens, total_tokens, latency_ms, cost_micros, streamed, token_source, format, prev_hash, hash)
            SELECT 7, 'u7', 'r7', 0, 'o', 'e', 'k', 'z', 'm', 'n', 0, 0, 0, 0, 0, 0, 'engine', 1, hash, 'x'
            FROM usage_ledger WHERE seq = 6
            """)
        #expect(refusal?.contains("older format") == true, "\(refusal ?? "accepted")")
        // ...and a verifier catches a row relabelled behind its back.
        // Recompute the row's hash as format 1 and relabel it: the hash matches its contents, but
        // the failover mark would be gone from the chain. The format order gives it away.
        let record = try await store.pool.read { db in try Ledger.record(row: try Row.fetchOne(db, sql: "SELECT * FROM usage_ledger WHERE seq = 6")!) }
        let prev = try await store.pool.read { db in try String.fetchOne(db, sql: "SELECT hash FROM usage_ledger WHERE seq = 5")! }
        let forged = ChainedRows.ledgerDigest(record, format: 1).linked(seq: 6, prevHash: prev)
        try Tampering.run(databasePath: database, table: "usage_ledger", "UPDATE usage_ledger SET format = 1, hash = '\(forged)' WHERE seq = 6")
        let report = try await store.verifyLedger()
        #expect(report.firstBreak?.seq == 6 && report.firstBreak?.kind == .formatRegression)
    }

    @Test func anUnknownFormatIsUnreadable() async throws {
        let store = try await upgraded()
        try Tampering.run(databasePath: database, table: "usage_ledger", "PRAGMA ignore_check_constraints = ON; UPDATE usage_ledger SET format = 9 WHERE seq = 6")
        let report = try await store.verifyLedger()
        #expect(report.firstBreak?.seq == 6 && report.firstBreak?.kind == .unreadable)
    }
}
