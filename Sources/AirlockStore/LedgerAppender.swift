import AirlockCore
import GRDB
import Synchronization

/// Appends usage rows to the hash-chained ledger with group commit.
///
/// Any number of tasks call ``append(_:)`` at once. Rows that arrive while a commit is in flight
/// queue up and go into the next transaction together (up to `maxBatch`), so one fsync covers
/// many rows under load while a lone row is never held back waiting for company. `append`
/// returns only after the transaction holding the row has committed with `synchronous=FULL`:
/// an acknowledged row survives kill -9 and power loss. If a batch's commit fails, its rows are
/// retried one transaction each, so a row the database refuses fails alone and its neighbours
/// are still appended; nothing of a failed transaction is kept.
public final class LedgerAppender: Sendable {
    private struct Pending {
        var row: DigestedRecord
        var continuation: CheckedContinuation<ChainPosition, Error>
    }

    private struct Queue {
        var pending: [Pending] = []
        var committing = false
        var committedRows = 0
        var committedBatches = 0
    }

    private let pool: DatabasePool
    public let maxBatch: Int
    /// A lock rather than an actor: enqueueing is a few instructions, and a lock spares every
    /// row an executor hop (measured: the hop was a third of the per-row cost at batch 512).
    private let queue = Mutex(Queue())

    public init(store: Store, maxBatch: Int) {
        precondition(maxBatch >= 1, "maxBatch must be at least 1")
        self.pool = store.pool
        self.maxBatch = maxBatch
    }

    /// Rows committed since start, for metrics.
    public var committedRows: Int { queue.withLock { $0.committedRows } }
    /// Transactions committed since start; rows ÷ batches is the average group size.
    public var committedBatches: Int { queue.withLock { $0.committedBatches } }

    /// Appends one row and returns its place in the chain once it is durable.
    public func append(_ record: UsageRecord) async throws -> ChainPosition {
        // Hash the row's fields here, on the caller's task and in parallel with other callers;
        // the writer only links the digest to its predecessor.
        let row = DigestedRecord(record: record, digest: ChainedRows.ledgerDigest(record))
        return try await withCheckedThrowingContinuation { continuation in
            let startCommitter = queue.withLock { queue in
                queue.pending.append(Pending(row: row, continuation: continuation))
                defer { queue.committing = true }
                return !queue.committing
            }
            if startCommitter { Task { await self.commitPending() } }
        }
    }

    /// Appends `records` in order as one transaction: all durable, or none kept. For callers that
    /// already hold many rows (replays, imports, the benchmark's chain-only measurement).
    public func append(contentsOf records: [UsageRecord]) async throws -> [ChainPosition] {
        try await commit(records.map { DigestedRecord(record: $0, digest: ChainedRows.ledgerDigest($0)) })
            .mapError(Self.reported).get()
    }

    /// Drains the queue one batch per transaction until it is empty. Rows that arrive while a
    /// batch commits wait for the next one, which is what makes the batches grow under load.
    private func commitPending() async {
        while true {
            let batch = queue.withLock { queue in
                let batch = Array(queue.pending.prefix(maxBatch))
                queue.pending.removeFirst(batch.count)
                if batch.isEmpty { queue.committing = false }
                return batch
            }
            if batch.isEmpty { return }
            switch await commit(batch.map(\.row)) {
            case let .success(positions):
                for (item, position) in zip(batch, positions) { item.continuation.resume(returning: position) }
            case let .failure(error) where batch.count == 1 || !Self.isRowSpecific(error):
                // Disk full, I/O error, lock timeout: the same for every row, so do not make 512
                // more attempts; every caller in the batch gets the error.
                for item in batch { item.continuation.resume(throwing: Self.reported(error)) }
            case .failure:
                // A constraint refused some row: commit one by one so that only it fails.
                for item in batch {
                    item.continuation.resume(with: await commit([item.row]).map { $0[0] }.mapError(Self.reported))
                }
            }
        }
    }

    /// What callers see: Airlock's storage error, like every other database failure.
    private static func reported(_ error: Error) -> Error {
        (error as? LedgerCommitError).map { AirlockError.storage($0.message) } ?? error
    }

    private static func isRowSpecific(_ error: Error) -> Bool {
        (error as? LedgerCommitError)?.resultCode.primaryResultCode == .SQLITE_CONSTRAINT
    }

    private func commit(_ records: [DigestedRecord]) async -> Result<[ChainPosition], Error> {
        do {
            let positions = try await pool.write { db in try Ledger.insert(records, in: db) }
            queue.withLock { queue in
                queue.committedRows += records.count
                queue.committedBatches += 1
            }
            return .success(positions)
        } catch let error as DatabaseError {
            return .failure(LedgerCommitError(resultCode: error.resultCode, message: error.message ?? "\(error)"))
        } catch {
            return .failure(error)
        }
    }
}

/// Why a ledger commit failed, keeping SQLite's result code so the appender can tell a row the
/// schema refused from a failure of the disk. Callers receive it as ``AirlockError/storage(_:)``.
struct LedgerCommitError: Error {
    var resultCode: ResultCode
    var message: String
}

/// A usage row with its fields already hashed.
struct DigestedRecord: Sendable {
    var record: UsageRecord
    var digest: RowDigest
}

/// SQL for the usage ledger table.
enum Ledger {
    /// Inserts `records` after the current head, in order, inside the caller's transaction.
    static func insert(_ records: [DigestedRecord], in db: Database) throws -> [ChainPosition] {
        var head = try ChainHead.read(table: "usage_ledger", db: db)
        let statement = try db.cachedStatement(sql: """
            INSERT INTO usage_ledger (seq, usage_id, request_id, ts, org_id, env_id, key_id, zone, model, node,
                prompt_tokens, completion_tokens, total_tokens, latency_ms, cost_micros, streamed, finish_reason,
                token_source, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var positions: [ChainPosition] = []
        positions.reserveCapacity(records.count)
        for (record, digest) in records.map({ ($0.record, $0.digest) }) {
            let seq = head.seq + 1
            let hash = digest.linked(seq: seq, prevHash: head.hash)
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
