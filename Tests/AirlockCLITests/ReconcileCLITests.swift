import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// `airlock reconcile` on a stopped appliance: it opens the counters itself, reports what
/// disagrees with the ledger, repairs unless told not to, and leaves the counters trusted.
@Suite struct ReconcileCLITests {
    @Test func aSkewedCounterIsReportedThenRepaired() async throws {
        let dir = try Executables.initializedDataDir()
        let appender = LedgerAppender(store: try Store(dataDirectory: dir.path), maxBatch: 8)
        for index in 0..<3 { _ = try await appender.append(Samples.usage(index, at: .now().adding(seconds: -5))) }
        // Two admissions the ledger never saw (left unsettled, then a clean stop): counters above it.
        #expect(try CounterRestartTests.probe(dir, attempts: 2) == "rebuilt=true replayed=3 moved_aside=false admitted=2")

        let reported = try Executables.airlock(dir.path, "reconcile", "--no-repair")
        #expect(reported.status == 2, "\(reported.stdout) \(reported.stderr)")
        #expect(reported.stdout.contains("not repaired") && reported.stdout.contains("outcome: drift"), "\(reported.stdout)")
        #expect(reported.stdout.contains("key:key_00000000000000c3 tokens_per_day: counter"), "\(reported.stdout)")
        #expect(reported.stdout.contains("usage_ledger: intact, 3 rows"), "\(reported.stdout)")

        let repaired = try Executables.airlock(dir.path, "reconcile")
        #expect(repaired.status == 0, "\(repaired.stdout) \(repaired.stderr)")
        #expect(repaired.stdout.contains("rebuilt from the ledger") && repaired.stdout.contains("outcome: repaired"), "\(repaired.stdout)")

        let again = try Executables.airlock(dir.path, "--json", "reconcile")
        #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
        let report = try #require(try Executables.json(again) as? [String: Any])
        #expect(report["outcome"] as? String == "clean" && report["counters_repaired"] as? Bool == false, "\(again.stdout)")

        // The CLI closed the counters cleanly: the next start trusts them.
        #expect(try CounterRestartTests.probe(dir, attempts: 1) == "rebuilt=false replayed=0 moved_aside=false admitted=1")
        let trail = try Executables.airlock(dir.path, "audit", "list")
        #expect(trail.stdout.contains("reconcile.run") && trail.stdout.contains("reconcile.repaired"))
    }

    @Test func countersHeldByAnotherProcessAreLeftAlone() throws {
        let dir = try Executables.initializedDataDir()
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        // Holds the lock until its stdin is closed (flock(1) takes the same lock as CounterStore).
        holder.arguments = [dir.child("counters.lock"), "sh", "-c", "echo held; exec cat"]
        let out = Pipe(), input = Pipe()
        holder.standardOutput = out
        holder.standardInput = input
        try holder.run()
        defer {
            try? input.fileHandleForWriting.close()
            holder.waitUntilExit()
        }
        _ = out.fileHandleForReading.availableData  // "held": the lock is taken

        let refused = try Executables.airlock(dir.path, "reconcile")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("holds the counters") && refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.child("counters")), "the refused run opened the counters")
    }
}
