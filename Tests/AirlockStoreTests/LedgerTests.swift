import AirlockCore
import AirlockStore
import AirlockTestSupport
import Synchronization
import Testing

@Suite struct LedgerTests {
    /// A store with `rows` ledger rows appended one by one.
    static func ledger(rows: Int) async throws -> StoreFixture {
        let dir = TemporaryDirectory()
        let store = try Store(dataDirectory: dir.path)
        let appender = LedgerAppender(store: store, maxBatch: 16)
        for index in 0..<rows { _ = try await appender.append(Samples.usage(index)) }
        return StoreFixture(dir: dir, store: store)
    }

    @Test func appendedRowsFormAnIntactChain() async throws {
        let f = try await Self.ledger(rows: 10)
        let report = try await f.store.verifyLedger()
        #expect(report.isIntact)
        #expect(report.rowsChecked == 10)
        #expect(report.verifiedHead?.seq == 10)
    }

    @Test func anEmptyLedgerVerifies() async throws {
        let dir = TemporaryDirectory()
        let report = try await Store(dataDirectory: dir.path).verifyLedger()
        #expect(report.isIntact && report.rowsChecked == 0 && report.verifiedHead == nil)
    }

    @Test func updateAndDeleteAreRefusedByTheDatabase() async throws {
        let f = try await Self.ledger(rows: 3)
        let update = Tampering.attempt(databasePath: f.store.path, "UPDATE usage_ledger SET completion_tokens = 1 WHERE seq = 2")
        #expect(update?.contains("append-only") == true)
        let delete = Tampering.attempt(databasePath: f.store.path, "DELETE FROM usage_ledger WHERE seq = 3")
        #expect(delete?.contains("append-only") == true)
        #expect(try Tampering.count(databasePath: f.store.path, "SELECT count(*) FROM usage_ledger") == 3)
    }

    @Test func anInsertThatDoesNotExtendTheChainIsRefused() async throws {
        let f = try await Self.ledger(rows: 2)
        let columns = "usage_id, request_id, ts, org_id, env_id, key_id, zone, model, node, prompt_tokens, completion_tokens, total_tokens, latency_ms, cost_micros, streamed, token_source, format"
        let values = "'u-x', 'r', 0, 'o', 'e', 'k', 'z', 'm', 'n', 1, 1, 2, 1, 0, 0, 'engine', 2"
        let skipsSeq = Tampering.attempt(databasePath: f.store.path,
            "INSERT INTO usage_ledger (seq, \(columns), prev_hash, hash) VALUES (5, \(values), (SELECT hash FROM usage_ledger WHERE seq = 2), 'h')")
        #expect(skipsSeq?.contains("does not extend the chain") == true)
        let wrongPrev = Tampering.attempt(databasePath: f.store.path,
            "INSERT INTO usage_ledger (seq, \(columns), prev_hash, hash) VALUES (3, \(values), 'feed', 'h')")
        #expect(wrongPrev?.contains("does not extend the chain") == true)
    }

    @Test func aChangedRowIsCaughtAtItsSeq() async throws {
        let f = try await Self.ledger(rows: 20)
        try Tampering.run(databasePath: f.store.path, table: "usage_ledger",
                          "UPDATE usage_ledger SET completion_tokens = completion_tokens + 1, total_tokens = total_tokens + 1 WHERE seq = 7")
        let report = try await f.store.verifyLedger()
        #expect(report.firstBreak?.seq == 7)
        #expect(report.firstBreak?.kind == .contentMismatch)
        #expect(report.verifiedHead?.seq == 6)
    }

    @Test func aChangedRowWithARecomputedLookingHashBreaksTheNextLink() async throws {
        let f = try await Self.ledger(rows: 20)
        try Tampering.run(databasePath: f.store.path, table: "usage_ledger",
                          "UPDATE usage_ledger SET hash = (SELECT hash FROM usage_ledger WHERE seq = 1) WHERE seq = 12")
        let report = try await f.store.verifyLedger()
        #expect(report.firstBreak?.seq == 12)
    }

    @Test func aDeletedRowIsCaught() async throws {
        let f = try await Self.ledger(rows: 20)
        try Tampering.run(databasePath: f.store.path, table: "usage_ledger", "DELETE FROM usage_ledger WHERE seq = 9")
        let report = try await f.store.verifyLedger()
        #expect(report.firstBreak == ChainBreak(seq: 9, kind: .missingRow, detail: "row 9 is missing (next row is 10)"))
    }

    @Test func reorderedRowsAreCaught() async throws {
        let f = try await Self.ledger(rows: 20)
        // Swap rows 4 and 5 wholesale, hashes included, by renumbering them.
        try Tampering.run(databasePath: f.store.path, table: "usage_ledger", """
            UPDATE usage_ledger SET seq = -4 WHERE seq = 4;
            UPDATE usage_ledger SET seq = 4 WHERE seq = 5;
            UPDATE usage_ledger SET seq = 5 WHERE seq = -4;
            """)
        let report = try await f.store.verifyLedger()
        #expect(report.firstBreak?.seq == 4)
        #expect(report.firstBreak?.kind == .linkMismatch)
    }

    @Test func concurrentAppendsFromManyTasksYieldOneUnbrokenChain() async throws {
        let dir = TemporaryDirectory()
        let store = try Store(dataDirectory: dir.path)
        let appender = LedgerAppender(store: store, maxBatch: 64)
        let tasks = 50, rowsPerTask = 40
        let positions = try await withThrowingTaskGroup(of: [ChainPosition].self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var mine: [ChainPosition] = []
                    for row in 0..<rowsPerTask { mine.append(try await appender.append(Samples.usage(task * 1000 + row))) }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let seqs = positions.map(\.seq).sorted()
        #expect(seqs == Array(1...Int64(tasks * rowsPerTask)))
        let report = try await store.verifyLedger()
        #expect(report.isIntact)
        #expect(report.rowsChecked == Int64(tasks * rowsPerTask))
        #expect(report.verifiedHead?.hash == positions.max { $0.seq < $1.seq }?.hash)
        // Group commit actually grouped: fewer transactions than rows.
        #expect(appender.committedBatches < tasks * rowsPerTask)
    }

    @Test func submittedRowsAreCalledBackOnceEachInOneChainAndSpacedCommitsGroupThem() async throws {
        let dir = TemporaryDirectory()
        let store = try Store(dataDirectory: dir.path)
        // Spaced far apart, so that everything queued behind the first commit goes in one more.
        let appender = LedgerAppender(store: store, maxBatch: 512, minCommitInterval: .milliseconds(300))
        let count = 300
        let calls = Mutex<[Int: ChainPosition]>([:])
        let (done, finished) = AsyncStream.makeStream(of: Void.self)
        _ = try await appender.append(Samples.usage(count))  // commits at once: nothing came before it
        for index in 0..<count {
            appender.submit(Samples.usage(index)) { result in
                let total = calls.withLock { calls in
                    #expect(calls[index] == nil, "row \(index) called back twice")
                    calls[index] = try? result.get()
                    return calls.count
                }
                if total == count { finished.finish() }
            }
        }
        for await _ in done {}
        let positions = calls.withLock { $0 }
        #expect(positions.count == count && positions.values.allSatisfy { $0.seq >= 1 })
        #expect(Set(positions.values.map(\.seq)) == Set(2...Int64(count + 1)))
        #expect(try await store.verifyLedger().isIntact)
        // The 300 rows came within the interval of that commit: they wait it out, together.
        #expect(appender.committedBatches == 2)
        #expect(appender.committedRows == count + 1)
    }

    @Test func aFullBatchDoesNotWaitOutTheInterval() async throws {
        let dir = TemporaryDirectory()
        let store = try Store(dataDirectory: dir.path)
        let appender = LedgerAppender(store: store, maxBatch: 10, minCommitInterval: .seconds(3_600))
        _ = try await appender.append(Samples.usage(0))
        // An hour's interval would hang this test, unless full batches go at once.
        let positions = try await withThrowingTaskGroup(of: ChainPosition.self) { group in
            for index in 1...30 { group.addTask { try await appender.append(Samples.usage(index)) } }
            return try await group.reduce(into: [ChainPosition]()) { $0.append($1) }
        }
        #expect(positions.count == 30 && appender.committedBatches == 4)
    }

    @Test func rowsSurviveReopeningTheStore() async throws {
        let dir = TemporaryDirectory()
        var head: ChainPosition?
        do {
            let store = try Store(dataDirectory: dir.path)
            let appender = LedgerAppender(store: store, maxBatch: 8)
            for index in 0..<5 { head = try await appender.append(Samples.usage(index)) }
        }
        let reopened = try Store(dataDirectory: dir.path)
        let appender = LedgerAppender(store: reopened, maxBatch: 8)
        let next = try await appender.append(Samples.usage(5))
        #expect(next.seq == 6 && next.prevHash == head?.hash)
        #expect(try await reopened.verifyLedger().isIntact)
    }

    @Test func aRefusedRowInABusyBatchFailsAloneAndItsNeighboursAreAppended() async throws {
        let dir = TemporaryDirectory()
        let store = try Store(dataDirectory: dir.path)
        let appender = LedgerAppender(store: store, maxBatch: 64)
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                group.addTask {
                    var record = Samples.usage(index)
                    if index == 77 { record.latencyMillis = -3 }  // violates CHECK (latency_ms >= 0)
                    return (try? await appender.append(record)) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { !$0 }.count == 1)
        let report = try await store.verifyLedger()
        #expect(report.isIntact && report.rowsChecked == 199)
    }

    @Test func aRowTheDatabaseRefusesFailsOnlyItsBatchAndLeavesTheChainIntact() async throws {
        let dir = TemporaryDirectory()
        let store = try Store(dataDirectory: dir.path)
        let appender = LedgerAppender(store: store, maxBatch: 1)
        var bad = Samples.usage(1)
        bad.totalTokens = 999_999  // violates CHECK total = prompt + completion
        await #expect(throws: AirlockError.self) { try await appender.append(bad) }
        let good = try await appender.append(Samples.usage(2))
        #expect(good.seq == 1)
        #expect(try await store.verifyLedger().isIntact)
    }
}
