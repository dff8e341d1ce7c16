import AirlockCore
import GRDB
import GRDBSQLite
import Synchronization

/// Appends usage rows to the hash-chained ledger with group commit.
///
/// Any number of tasks call ``append(_:)`` (or ``submit(_:then:)``) at once. Rows that arrive
/// while a commit is in flight queue up and go into the next transaction together (up to
/// `maxBatch`), so one fsync covers many rows under load. With a `minCommitInterval`, commits
/// under load are also spaced at least that far apart, so batches grow further; a row that
/// arrives after a quiet spell is still committed at once, never held back waiting for company.
/// `append` returns (and `submit` calls back) only after the transaction holding the row has
/// committed with `synchronous=FULL`: an acknowledged row survives kill -9 and power loss. If a
/// batch's commit fails, its rows are retried one transaction each, so a row the database refuses
/// fails alone and its neighbours are still appended; nothing of a failed transaction is kept.
///
/// The appender also prices each row (``LedgerPricing``) and keeps `usage_daily` in step, both
/// in the row's own transaction.
public final class LedgerAppender: Sendable {
    /// Told once, from the writer's task, whether the row committed and where.
    public typealias Completion = @Sendable (Result<ChainPosition, Error>) -> Void

    private struct Pending {
        var row: DigestedRecord
        var done: Completion
    }

    private struct Queue {
        var pending: [Pending] = []
        var committing = false
        var committedRows = 0
        var committedBatches = 0
        /// When the latest batch began to commit, for `minCommitInterval`.
        var lastCommit: ContinuousClock.Instant?
        /// The committer, waiting out `minCommitInterval`; resumed early once a batch is full.
        var spacing: CheckedContinuation<Void, Never>?
        /// Counts the waits, so that a wait's timer, firing late, cannot end a later wait.
        var spacingWait = 0

        /// The waiting committer, if the queue now holds a full batch: the caller resumes it.
        mutating func takeSpacingIfFull(_ maxBatch: Int) -> CheckedContinuation<Void, Never>? {
            guard pending.count >= maxBatch else { return nil }
            defer { spacing = nil }
            return spacing
        }
    }

    private let pool: DatabasePool
    public let maxBatch: Int
    /// Least time between the starts of two commits while rows keep coming (zero: none).
    public let minCommitInterval: Duration
    /// A lock rather than an actor: enqueueing is a few instructions, and a lock spares every
    /// row an executor hop (measured: the hop was a third of the per-row cost at batch 512).
    private let queue = Mutex(Queue())
    private let pricing = LedgerPricing()

    public init(store: Store, maxBatch: Int, minCommitInterval: Duration = .zero) {
        precondition(maxBatch >= 1, "maxBatch must be at least 1")
        self.pool = store.pool
        self.maxBatch = maxBatch
        self.minCommitInterval = minCommitInterval
    }

    /// Rows committed since start, for metrics.
    public var committedRows: Int { queue.withLock { $0.committedRows } }
    /// Transactions committed since start; rows ÷ batches is the average group size.
    public var committedBatches: Int { queue.withLock { $0.committedBatches } }

    /// Appends one row and returns its place in the chain once it is durable. The row's
    /// `costMicros` is ignored: the ledger prices it (``LedgerPricing``).
    public func append(_ record: UsageRecord) async throws -> ChainPosition {
        try await withCheckedThrowingContinuation { continuation in
            submit(record) { continuation.resume(with: $0) }
        }
    }

    /// Queues one row without waiting: `done` is called once the row is durable (or could not be
    /// appended). For the request path, which must not hold a task per row in flight.
    public func submit(_ record: UsageRecord, then done: @escaping Completion) {
        // Price and hash the row's fields here, on the caller's thread and in parallel with other
        // callers; the writer only corrects a stale quote and links the digest to its predecessor.
        var record = record
        record.costMicros = pricing.quote(record)
        let row = DigestedRecord(record: record, digest: ChainedRows.ledgerDigest(record))
        let (startCommitter, spacing) = queue.withLock { queue in
            queue.pending.append(Pending(row: row, done: done))
            defer { queue.committing = true }
            return (!queue.committing, queue.takeSpacingIfFull(maxBatch))
        }
        spacing?.resume()
        if startCommitter { Task { await self.commitPending() } }
    }

    /// Appends `records` in order as one transaction: all durable, or none kept. For callers that
    /// already hold many rows (replays, imports, the benchmark's chain-only measurement). Rows
    /// keep the cost they carry: a replayed row was priced when it was first written.
    public func append(contentsOf records: [UsageRecord]) async throws -> [ChainPosition] {
        try await commit(records.map { DigestedRecord(record: $0, digest: ChainedRows.ledgerDigest($0)) }, priced: false)
            .mapError(Self.reported).get()
    }

    /// Drains the queue one batch per transaction until it is empty. Rows that arrive while a
    /// batch commits wait for the next one, which is what makes the batches grow under load.
    private func commitPending() async {
        while true {
            await spaceCommits()
            let batch = queue.withLock { queue in
                let batch = Array(queue.pending.prefix(maxBatch))
                queue.pending.removeFirst(batch.count)
                if batch.isEmpty { queue.committing = false } else { queue.lastCommit = .now }
                return batch
            }
            if batch.isEmpty { return }
            switch await commit(batch.map(\.row), priced: true) {
            case let .success(positions):
                for (item, position) in zip(batch, positions) { item.done(.success(position)) }
            case let .failure(error) where batch.count == 1 || !Self.isRowSpecific(error):
                // Disk full, I/O error, lock timeout: the same for every row, so do not make 512
                // more attempts; every caller in the batch gets the error.
                for item in batch { item.done(.failure(Self.reported(error))) }
            case .failure:
                // A constraint refused some row: commit one by one so that only it fails.
                for item in batch {
                    item.done(await commit([item.row], priced: true).map { $0[0] }.mapError(Self.reported))
                }
            }
        }
    }

    /// Under load, waits until `minCommitInterval` has passed since the last commit began (or a
    /// full batch is queued), so that one fsync and one summary update cover more rows. After a
    /// quiet spell the last commit is long past and nothing waits.
    private func spaceCommits() async {
        guard minCommitInterval > .zero, let last = queue.withLock({ $0.lastCommit }) else { return }
        let due = last + minCommitInterval
        guard due > .now else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let wait: Int? = queue.withLock { queue in
                queue.spacing = continuation
                queue.spacingWait += 1
                return queue.takeSpacingIfFull(maxBatch) == nil ? queue.spacingWait : nil
            }
            guard let wait else { return continuation.resume() }
            Task {
                try? await Task.sleep(until: due, clock: .continuous)
                queue.withLock { queue -> CheckedContinuation<Void, Never>? in
                    guard queue.spacingWait == wait else { return nil }
                    defer { queue.spacing = nil }
                    return queue.spacing
                }?.resume()
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

    private func commit(_ records: [DigestedRecord], priced: Bool) async -> Result<[ChainPosition], Error> {
        do {
            let positions = try await pool.write { [pricing] db in
                var rows = records
                if priced { try pricing.price(&rows, db: db) }
                let positions = try Ledger.insert(rows, in: db)
                try UsageDaily.add(rows.map(\.record), at: positions, in: db)
                return positions
            }
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
                token_source, failover, format, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var positions: [ChainPosition] = []
        positions.reserveCapacity(records.count)
        let sqlite = statement.sqliteStatement
        for (record, digest) in records.map({ ($0.record, $0.digest) }) {
            let seq = head.seq + 1
            let hash = digest.linked(seq: seq, prevHash: head.hash)
            var binder = RowBinder(statement: sqlite)
            binder.bind(seq)
            binder.bind(record.usageID)
            binder.bind(record.requestID)
            binder.bind(record.timestamp.value)
            binder.bind(record.orgID.rawValue)
            binder.bind(record.envID.rawValue)
            binder.bind(record.keyID.rawValue)
            binder.bind(record.zone)
            binder.bind(record.model)
            binder.bind(record.node)
            binder.bind(record.promptTokens)
            binder.bind(record.completionTokens)
            binder.bind(record.totalTokens)
            binder.bind(record.latencyMillis)
            binder.bind(record.costMicros)
            binder.bind(record.streamed ? 1 : 0)
            binder.bind(record.finishReason)
            binder.bind(record.tokenSource.rawValue)
            binder.bind(record.failover ? 1 : 0)
            binder.bind(ChainedRows.ledgerFormat)
            binder.bind(head.hash)
            binder.bind(hash)
            let code = sqlite3_step(sqlite)
            // Read the message before reset, and reset before throwing, so the statement never
            // stays busy and the transaction can roll back cleanly.
            let message = code == SQLITE_DONE ? nil : db.lastErrorMessage
            sqlite3_reset(sqlite)
            guard code == SQLITE_DONE else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
            }
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
            finishReason: row["finish_reason"], tokenSource: source, failover: row["failover"])
        // Hash what is stored, not what the initialiser derives: a tampered total must show.
        record.totalTokens = row["total_tokens"]
        return record
    }
}

/// Binds parameters 1, 2, 3, … of a prepared statement straight through SQLite's C API. The
/// ledger insert runs once per row inside the single writer; GRDB's general `StatementArguments`
/// path boxes each of its 22 values and was the largest cost there (see docs/BENCHMARKS.md).
struct RowBinder {
    let statement: OpaquePointer
    private var index: Int32 = 1
    /// SQLITE_TRANSIENT: SQLite copies the bytes, so Swift's temporary C string may go away.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(statement: OpaquePointer) { self.statement = statement }

    mutating func bind(_ value: Int64) {
        sqlite3_bind_int64(statement, index, value)
        index += 1
    }

    mutating func bind(_ value: String?) {
        if let value {
            var text = value
            text.withUTF8 { utf8 in
                _ = sqlite3_bind_text(statement, index, utf8.baseAddress, Int32(utf8.count), Self.transient)
            }
        } else {
            sqlite3_bind_null(statement, index)
        }
        index += 1
    }
}

/// One ledger row reduced to what the counters need: when, who, how many tokens.
public struct UsageTally: Sendable {
    public var timestamp: UnixMillis
    public var orgID: OrgID
    public var envID: EnvID
    public var keyID: KeyID
    public var totalTokens: Int64
}

extension Store {
    /// Ledger rows with `ts >= since`, oldest first, for rebuilding counters (uses the ts index).
    public func usageTallies(since: UnixMillis) async throws -> [UsageTally] {
        try await usageSpans(since: since).map(\.tally)
    }
}
