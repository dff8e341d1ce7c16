import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// Counters live in LMDB across process restarts, and are rebuilt from the ledger when they are
/// missing, damaged or were left by a crash. Each probe is a separate process.
@Suite struct CounterRestartTests {
    static func probe(_ dir: TemporaryDirectory, attempts: Int, extra: [String] = []) throws -> String {
        let outcome = try Executables.run(
            "airlock-bench", ["admission-probe", "--data-dir", dir.path, "--attempts", "\(attempts)", "--requests-per-minute", "10"] + extra)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        return outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func appendLedgerRows(_ dir: TemporaryDirectory, _ count: Int) async throws {
        let appender = LedgerAppender(store: try Store(dataDirectory: dir.path), maxBatch: 8)
        for index in 0..<count { _ = try await appender.append(Samples.usage(index, at: .now())) }
    }

    @Test func countersSurviveARestart() throws {
        let dir = TemporaryDirectory()
        #expect(try Self.probe(dir, attempts: 6) == "rebuilt=true replayed=0 moved_aside=false admitted=6")
        #expect(try Self.probe(dir, attempts: 6) == "rebuilt=false replayed=0 moved_aside=false admitted=4")
    }

    @Test func deletedCountersAreRebuiltFromTheLedger() async throws {
        let dir = TemporaryDirectory()
        _ = try Self.probe(dir, attempts: 1)
        try await Self.appendLedgerRows(dir, 7)
        try FileManager.default.removeItem(atPath: dir.child("counters"))
        #expect(try Self.probe(dir, attempts: 6) == "rebuilt=true replayed=7 moved_aside=false admitted=3")
    }

    @Test func aCrashLeavesCountersThatAreRebuiltOnTheNextStart() async throws {
        let dir = TemporaryDirectory()
        try await Self.appendLedgerRows(dir, 2)
        #expect(try Self.probe(dir, attempts: 5, extra: ["--no-close"]) == "rebuilt=true replayed=2 moved_aside=false admitted=5")
        // The five admissions never reached the ledger (no request completed): the rebuild
        // trusts the ledger, not the unflushed counters.
        #expect(try Self.probe(dir, attempts: 10) == "rebuilt=true replayed=2 moved_aside=false admitted=8")
    }

    @Test func aCorruptCounterFileIsMovedAsideAndRebuilt() async throws {
        let dir = TemporaryDirectory()
        _ = try Self.probe(dir, attempts: 1)
        try await Self.appendLedgerRows(dir, 4)
        try Data(repeating: 0xAB, count: 16_384).write(to: URL(fileURLWithPath: dir.child("counters/data.mdb")))
        #expect(try Self.probe(dir, attempts: 10) == "rebuilt=true replayed=4 moved_aside=true admitted=6")
    }
}
