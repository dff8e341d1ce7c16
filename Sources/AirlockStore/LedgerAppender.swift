import AirlockCore
import GRDB

/// Appends usage rows to the hash-chained ledger with group commit.
///
/// Any number of tasks call ``append(_:)`` at once. Rows that arrive while a commit is in flight
/// queue up and go into the next transaction together (up to `maxBatch`), so one fsync covers
/// many rows under load while a lone row is never held back waiting for company. `append`
/// returns only after the transaction holding the row has committed with `synchronous=FULL`:
/// an acknowledged row survives kill -9 and power loss. If a commit fails, every caller in that
/// batch gets the error and nothing of the batch is kept.
public actor LedgerAppender {
    private struct Pending {
        var record: UsageRecord
        var continuation: CheckedContinuation<ChainPosition, Error>
    }

    private let pool: DatabasePool
    public let maxBatch: Int
    private var pending: [Pending] = []
    private var committing = false
    /// Totals since start, for metrics and the benchmark's average batch size.
    public private(set) var committedRows = 0
    public private(set) var committedBatches = 0

    public init(store: Store, maxBatch: Int) {
        precondition(maxBatch >= 1, "maxBatch must be at least 1")
        self.pool = store.pool
        self.maxBatch = maxBatch
    }

    /// Appends one row and returns its place in the chain once it is durable.
    public func append(_ record: UsageRecord) async throws -> ChainPosition {
        try await withCheckedThrowingContinuation { continuation in
            pending.append(Pending(record: record, continuation: continuation))
            if !committing {
                committing = true
                Task { await self.commitPending() }
            }
        }
    }

    /// Drains the queue one batch per transaction until it is empty. While a batch commits, the
    /// actor is free to accept more rows, which is what makes the batches grow under load.
    private func commitPending() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maxBatch))
            pending.removeFirst(batch.count)
            let records = batch.map(\.record)
            do {
                let positions = try await pool.write { db in try Ledger.insert(records, in: db) }
                committedRows += batch.count
                committedBatches += 1
                for (item, position) in zip(batch, positions) { item.continuation.resume(returning: position) }
            } catch {
                let failure = (error as? DatabaseError).map { AirlockError.storage($0.message ?? "\($0)") } ?? error
                for item in batch { item.continuation.resume(throwing: failure) }
            }
        }
        committing = false
    }
}

/// SQL for the usage ledger table.
enum Ledger {
    /// Inserts `records` after the current head, in order, inside the caller's transaction.
    static func insert(_ records: [UsageRecord], in db: Database) throws -> [ChainPosition] {
        var head = try ChainHead.read(table: "usage_ledger", db: db)
        let statement = try db.cachedStatement(sql: """
            INSERT INTO usage_ledger (seq, usage_id, request_id, ts, org_id, env_id, key_id, zone, model, node,
                prompt_tokens, completion_tokens, total_tokens, latency_ms, cost_micros, streamed, finish_reason,
                token_source, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var positions: [ChainPosition] = []
        positions.reserveCapacity(records.count)
        for record in records {
            let seq = head.seq + 1
            let hash = ChainedRows.ledgerHash(record, seq: seq, prevHash: head.hash)
            try statement.execute(arguments: [
                seq, record.usageID, record.requestID, record.timestamp.value, record.orgID.rawValue,
                record.envID.rawValue, record.keyID.rawValue, record.zone, record.model, record.node,
                record.promptTokens, record.completionTokens, record.totalTokens, record.latencyMillis,
                record.costMicros, record.streamed, record.finishReason, record.tokenSource.rawValue,
                head.hash, hash,
            ])
            positions.append(ChainPosition(seq: seq, prevHash: head.hash, hash: hash))
            head = ChainHead(seq: seq, hash: hash)
        }
        return positions
    }

    static func record(row: Row) throws -> UsageRecord {
        guard let source = UsageRecord.TokenSource(rawValue: row["token_source"]) else {
            throw AirlockError.storage("unknown token_source in ledger row \(row["seq"] as Int64)")
        }
        var record = UsageRecord(
            usageID: row["usage_id"], requestID: row["request_id"], timestamp: UnixMillis(row["ts"] as Int64),
            orgID: OrgID(unchecked: row["org_id"]), envID: EnvID(unchecked: row["env_id"]),
            keyID: KeyID(unchecked: row["key_id"]), zone: row["zone"], model: row["model"], node: row["node"],
            promptTokens: row["prompt_tokens"], completionTokens: row["completion_tokens"],
            latencyMillis: row["latency_ms"], costMicros: row["cost_micros"], streamed: row["streamed"],
            finishReason: row["finish_reason"], tokenSource: source)
        // Hash what is stored, not what the initialiser derives: a tampered total must show.
        record.totalTokens = row["total_tokens"]
        return record
    }
}
