import AirlockStore
import ArgumentParser
import Foundation

/// Appends ledger rows from several tasks until killed, printing `acked SEQ HASH` as each append
/// returns. The kill -9 test (AirlockCLITests) reads these lines, kills the process, and checks
/// that every acknowledged row is in the reopened ledger with the same hash.
struct DurabilityWriter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "durability-writer", abstract: "Append until killed, printing acknowledgements (for the kill -9 test).",
        shouldDisplay: false)

    @Option var dataDir: String
    @Option var tasks = 8

    func run() async throws {
        let store = try Store(dataDirectory: dataDir)
        let appender = LedgerAppender(store: store, maxBatch: 64)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<tasks {
                group.addTask {
                    var index = worker
                    while true {
                        let position = try await appender.append(BenchRows.usage(index))
                        // Unbuffered: a line printed is a line the test can see before the kill.
                        FileHandle.standardOutput.write(Data("acked \(position.seq) \(position.hash)\n".utf8))
                        index += tasks
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
