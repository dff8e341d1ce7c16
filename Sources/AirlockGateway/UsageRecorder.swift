import AirlockCore
import AirlockStore
import Foundation
import Logging
import Synchronization

/// Appends usage rows to the ledger off the response path. Each row is submitted to the
/// ``LedgerAppender`` as its own append, so rows from concurrent requests share group commits;
/// the client's response never waits for an fsync, and no task is held per row in flight.
/// Graceful shutdown drains every row first.
///
/// A row the database refuses (disk full, I/O error) is not dropped: it is written as a JSON
/// line to `ledger-unwritten.jsonl` in the data dir and logged, for the operator to replay.
public final class UsageRecorder: Sendable {
    /// Public for `/metrics`, which reads its committed row and batch counts at scrape time.
    public let appender: LedgerAppender
    private let deadLetterPath: String
    private let logger: Logger
    private let state = Mutex(State())
    private let deadLetters = Mutex(())

    private struct State {
        /// Rows submitted and not yet committed or dead-lettered.
        var outstanding = 0
        var finished = false
        /// `run()`, waiting for `finish()` and the last outstanding row.
        var drained: CheckedContinuation<Void, Never>?

        /// The waiter to resume, once both are true.
        mutating func takeWaiterIfDrained() -> CheckedContinuation<Void, Never>? {
            guard finished, outstanding == 0 else { return nil }
            defer { drained = nil }
            return drained
        }
    }

    public init(appender: LedgerAppender, dataDirectory: String, logger: Logger) {
        self.appender = appender
        self.deadLetterPath = dataDirectory + "/ledger-unwritten.jsonl"
        self.logger = logger
    }

    /// Rows handed over but not yet committed (or dead-lettered).
    public var pending: Int { state.withLock { $0.outstanding } }

    func record(_ row: UsageRecord) {
        state.withLock { $0.outstanding += 1 }
        let started = ContinuousClock.now
        appender.submit(row) { [self] result in
            let failure: (any Error)? = if case let .failure(error) = result { error } else { nil }
            GatewayMetrics.ledgerAppend(took: ContinuousClock.now - started, failed: failure != nil)
            if let error = failure {
                logger.critical("usage row not committed; kept in ledger-unwritten.jsonl", metadata: [
                    "usage_id": "\(row.usageID)", "request_id": "\(row.requestID)", "error": "\(error)",
                ])
                deadLetter(row)
            }
            state.withLock { state in
                state.outstanding -= 1
                return state.takeWaiterIfDrained()
            }?.resume()
        }
    }

    /// Returns once ``finish()`` was called and every row handed over has been committed (or
    /// dead-lettered). Rows recorded after `finish()` are still appended, and waited for.
    public func run() async {
        await withCheckedContinuation { continuation in
            state.withLock { state in
                state.drained = continuation
                return state.takeWaiterIfDrained()
            }?.resume()
        }
    }

    /// No more rows are expected; ``run()`` returns once the outstanding ones are committed.
    public func finish() {
        state.withLock { state in
            state.finished = true
            return state.takeWaiterIfDrained()
        }?.resume()
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
