import AirlockStore
import AirlockTestSupport
import Foundation
import GRDB
import Testing

/// An acknowledged ledger row survives kill -9: a writer process appends from several tasks and
/// prints each acknowledgement; we kill it mid-stream and look for every acknowledged row.
@Suite struct DurabilityTests {
    @Test func everyAcknowledgedRowSurvivesKill9() async throws {
        let dir = TemporaryDirectory()
        let process = Process()
        process.executableURL = Executables.binDirectory.appendingPathComponent("airlock-bench")
        process.arguments = ["durability-writer", "--data-dir", dir.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()

        var acknowledged: [Int64: String] = [:]
        var buffer = Data()
        let reader = out.fileHandleForReading
        while acknowledged.count < 300 {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                let parts = line.split(separator: " ")
                if parts.count == 3, parts[0] == "acked", let seq = Int64(parts[1]) { acknowledged[seq] = String(parts[2]) }
            }
        }
        kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(acknowledged.count >= 300)

        let store = try Store(dataDirectory: dir.path)
        let report = try await store.verifyLedger()
        #expect(report.isIntact)
        let stored = try await DatabaseQueue(path: store.path).read { db in
            try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT seq, hash FROM usage_ledger").map {
                ($0["seq"] as Int64, $0["hash"] as String)
            })
        }
        for (seq, hash) in acknowledged { #expect(stored[seq] == hash, "acknowledged row \(seq) lost or changed") }
    }
}
