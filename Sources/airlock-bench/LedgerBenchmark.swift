import AirlockCore
import AirlockStore
import ArgumentParser
import Foundation
import GRDB

/// Durable ledger appends per second through ``LedgerAppender`` with `synchronous=FULL`.
///
/// For batch size B, 2×B tasks append concurrently to an appender whose `maxBatch` is B, so
/// group commit forms batches of up to B rows per fsync — the shape the gateway produces under
/// load (while one batch commits, the next one fills).
/// The baseline, in the same run, is bare SQLite: the same rows into a table with the same
/// columns and indexes, one prepared statement, 512 per transaction, `synchronous=FULL` — but no
/// hashing, no chain columns, trigger or CHECKs, no queue; bound through GRDB's general
/// `StatementArguments` (the ledger binds through SQLite's C API, see `RowBinder`). `best_vs_bare` is what the chain and the group-commit
/// machinery leave of what the disk and SQLite can do. A third row shows one caller handing the
/// appender 512 rows at a time, which separates the chain's cost from the concurrency's.
struct LedgerBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger", abstract: "Durable ledger append throughput.")

    @Option(help: "Batch sizes to measure.") var batches = "1,64,512"
    @Option(help: "Rows per measurement for batch sizes above 1.") var rows = 100_000
    @Option(help: "Rows for batch size 1 (one fsync per row).") var singleRows = 2_000
    @Option(help: "Directory for the scratch databases (default: a temp dir).") var scratch: String?

    func run() async throws {
        let sizes = batches.split(separator: ",").compactMap { Int($0) }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--batches: comma-separated positive integers") }
        let root = (scratch ?? FileManager.default.temporaryDirectory.path) + "/airlock-bench-ledger-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }

        print("ledger append, synchronous=FULL, WAL, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("batch  rows     seconds  rows/s     avg rows/commit")
        var results: [(Int, Double)] = []
        for size in sizes {
            let count = size == 1 ? singleRows : rows
            let (seconds, commits) = try await measureAppender(directory: "\(root)/b\(size)", batch: size, rows: count)
            let perSecond = Double(count) / seconds
            results.append((size, perSecond))
            print(row(size, count, seconds, perSecond, Double(count) / Double(commits)))
        }
        let (directSeconds, directCommits) = try await measureDirect(directory: "\(root)/direct", rows: rows, batch: 512)
        let direct = Double(rows) / directSeconds
        print(row(512, rows, directSeconds, direct, Double(rows) / Double(directCommits)) + "  (one caller, append(contentsOf:) 512 at a time)")
        let rawSeconds = try measureBareSQLite(directory: "\(root)/raw", rows: rows, batch: 512)
        let raw = Double(rows) / rawSeconds
        print(row(512, rows, rawSeconds, raw, 512) + "  (baseline: bare SQLite insert, no chain)")
        let best = results.map(\.1).max() ?? 0
        var result = "RESULT ledger"
        for (size, perSecond) in results { result += " batch\(size)_rows_per_s=\(Int(perSecond))" }
        result += " single_caller512_rows_per_s=\(Int(direct)) bare_sqlite512_rows_per_s=\(Int(raw))"
        result += " best_vs_bare=\(String(format: "%.2f", best / raw))"
        print(result)
    }

    private func row(_ size: Int, _ count: Int, _ seconds: Double, _ perSecond: Double, _ average: Double) -> String {
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
        return pad("\(size)", 7) + pad("\(count)", 9) + pad(String(format: "%.3f", seconds), 9)
            + pad("\(Int(perSecond))", 11) + String(format: "%.1f", average)
    }

    private func measureAppender(directory: String, batch: Int, rows: Int) async throws -> (Double, Int) {
        let store = try Store(dataDirectory: directory)
        let appender = LedgerAppender(store: store, maxBatch: batch)
        // Twice as many writers as the batch holds: while one batch commits, the next fills.
        let workers = batch * 2
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var index = worker
                    while index < rows {
                        _ = try await appender.append(BenchRows.usage(index))
                        index += workers
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        guard try await store.verifyLedger().rowsChecked == Int64(rows) else { throw ValidationError("ledger did not verify") }
        return (elapsed.seconds, appender.committedBatches)
    }

    private func measureDirect(directory: String, rows: Int, batch: Int) async throws -> (Double, Int) {
        let store = try Store(dataDirectory: directory)
        let appender = LedgerAppender(store: store, maxBatch: batch)
        let start = ContinuousClock.now
        var index = 0
        while index < rows {
            let end = min(index + batch, rows)
            _ = try await appender.append(contentsOf: (index..<end).map(BenchRows.usage))
            index = end
        }
        let elapsed = (ContinuousClock.now - start).seconds
        guard try await store.verifyLedger().rowsChecked == Int64(rows) else { throw ValidationError("ledger did not verify") }
        return (elapsed, appender.committedBatches)
    }

    private func measureBareSQLite(directory: String, rows: Int, batch: Int) throws -> Double {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let pool = try DatabasePool(path: "\(directory)/bare.sqlite", configuration: configuration)
        try pool.write { db in
            try db.execute(sql: """
                CREATE TABLE bare (seq INTEGER PRIMARY KEY, usage_id TEXT UNIQUE, request_id TEXT, ts INTEGER,
                  org_id TEXT, env_id TEXT, key_id TEXT, zone TEXT, model TEXT, node TEXT, prompt_tokens INTEGER,
                  completion_tokens INTEGER, total_tokens INTEGER, latency_ms INTEGER, cost_micros INTEGER,
                  streamed INTEGER, finish_reason TEXT, token_source TEXT);
                CREATE INDEX bare_ts ON bare(ts);
                """)
        }
        let start = ContinuousClock.now
        var index = 0
        while index < rows {
            let end = min(index + batch, rows)
            try pool.write { db in
                let statement = try db.cachedStatement(sql: "INSERT INTO bare VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
                for i in index..<end {
                    let r = BenchRows.usage(i)
                    try statement.execute(arguments: [
                        i + 1, r.usageID, r.requestID, r.timestamp.value, r.orgID.rawValue, r.envID.rawValue,
                        r.keyID.rawValue, r.zone, r.model, r.node, r.promptTokens, r.completionTokens, r.totalTokens,
                        r.latencyMillis, r.costMicros, r.streamed, r.finishReason, r.tokenSource.rawValue,
                    ])
                }
            }
            index = end
        }
        return (ContinuousClock.now - start).seconds
    }
}

enum BenchRows {
    static let org = OrgID.generate(), env = EnvID.generate(), key = KeyID.generate()

    static func usage(_ index: Int) -> UsageRecord {
        UsageRecord(
            usageID: UsageID.generate(), requestID: "req_\(index)", timestamp: .now(),
            orgID: org, envID: env, keyID: key, zone: "hall-a", model: "llama-3-8b", node: "gpu-07",
            promptTokens: Int64(20 + index % 500), completionTokens: Int64(200 + index % 300), latencyMillis: 420,
            costMicros: 1_500, streamed: index % 2 == 0, finishReason: "stop", tokenSource: .engine)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
