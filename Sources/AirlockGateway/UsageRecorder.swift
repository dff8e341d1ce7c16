import AirlockCore
import AirlockStore
import Foundation
import Logging
import Metrics
import Synchronization

/// Appends usage rows to the ledger off the response path. Each row is handed to the
/// ``LedgerAppender`` as its own append, so rows from concurrent requests share group commits;
/// the client's response never waits for an fsync. Graceful shutdown drains every row first.
///
/// A row the database refuses (disk full, I/O error) is not dropped: it is written as a JSON
/// line to `ledger-unwritten.jsonl` in the data dir and logged, for the operator to replay.
public final class UsageRecorder: Sendable {
    /// Public for `/metrics`, which reads its committed row and batch counts at scrape time.
    public let appender: LedgerAppender
    private let deadLetterPath: String
    private let logger: Logger
    private let stream: AsyncStream<UsageRecord>
    private let continuation: AsyncStream<UsageRecord>.Continuation
    private let outstanding = Atomic<Int>(0)
    private let deadLetters = Mutex(())

    public init(appender: LedgerAppender, dataDirectory: String, logger: Logger) {
        self.appender = appender
        self.deadLetterPath = dataDirectory + "/ledger-unwritten.jsonl"
        self.logger = logger
        (stream, continuation) = AsyncStream.makeStream(of: UsageRecord.self)
    }

    /// Rows handed over but not yet committed (or dead-lettered).
    public var pending: Int { outstanding.load(ordering: .relaxed) }

    func record(_ row: UsageRecord) {
        outstanding.add(1, ordering: .relaxed)
        if case .terminated = continuation.yield(row) {
            // Only after shutdown began: append directly rather than lose the row.
            Task { await self.append(row) }
        }
    }

    /// Runs until ``finish()`` and every row handed over has been appended.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for await row in stream {
                group.addTask { await self.append(row) }
            }
        }
    }

    /// No more rows will come; ``run()`` returns once the queued ones are committed.
    public func finish() {
        continuation.finish()
    }

    private func append(_ row: UsageRecord) async {
        defer { outstanding.subtract(1, ordering: .relaxed) }
        let started = ContinuousClock.now
        defer { Timer(label: MetricFamily.ledgerAppend.name).record(duration: ContinuousClock.now - started) }
        do {
            _ = try await appender.append(row)
        } catch {
            Counter(label: MetricFamily.ledgerAppendFailures.name).increment()
            logger.critical("usage row not committed; kept in ledger-unwritten.jsonl", metadata: [
                "usage_id": "\(row.usageID)", "request_id": "\(row.requestID)", "error": "\(error)",
            ])
            deadLetter(row)
        }
    }

    private func deadLetter(_ row: UsageRecord) {
        guard var line = try? JSONEncoder().encode(row) else { return }
        line.append(UInt8(ascii: "\n"))
        deadLetters.withLock { _ in
            if !FileManager.default.fileExists(atPath: deadLetterPath) {
                _ = FileManager.default.createFile(atPath: deadLetterPath, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            guard let handle = FileHandle(forWritingAtPath: deadLetterPath) else { return }
            defer { try? handle.close() }
            _ = try? handle.seekToEnd()
            try? handle.write(contentsOf: line)
            try? handle.synchronize()
        }
    }
}
