@testable import AirlockAgent
import AirlockTestSupport
import Foundation
import Logging
import Testing

/// The supervisor with real short-lived processes and millisecond backoff.
@Suite struct EngineSupervisorTests {
    let dir = TemporaryDirectory("airlock-agent-engine")
    let logger = Logger(label: "test.engine")

    func supervisor(_ script: String, backoff: EngineSupervisor.Backoff) -> EngineSupervisor {
        EngineSupervisor(executable: "/bin/sh", arguments: ["-c", script], backoff: backoff, logger: logger)
    }

    @Test func backoffDoublesUpToTheCap() {
        let backoff = EngineSupervisor.Backoff()
        #expect((0...8).map { backoff.delay(afterFailures: $0) }
            == [1, 2, 4, 8, 16, 32, 60, 60, 60].map { Duration.seconds($0) })
        #expect(backoff.delay(afterFailures: 10_000) == .seconds(60))
        #expect(backoff.stableAfter == .seconds(60))
    }

    @Test func aCrashingEngineIsRestartedWithGrowingDelays() async throws {
        let backoff = EngineSupervisor.Backoff(initial: .milliseconds(20), maximum: .milliseconds(160), stableAfter: .seconds(30))
        let engine = supervisor("exit 3", backoff: backoff)
        let updates = await engine.stateUpdates()
        await engine.start()
        var deadlines: [ContinuousClock.Instant] = []
        for await state in updates {
            guard case let .backingOff(until, after) = state else { continue }
            #expect(after == .exited(status: 3))
            deadlines.append(until)
            if deadlines.count == 6 { break }
        }
        let restarts = await engine.restarts
        await engine.stop(grace: .seconds(1))
        // Each run starts after the previous delay ended, so the gap between two deadlines is at
        // least the second delay: 40, 80, 160, 160, 160 ms.
        for step in 1..<deadlines.count {
            #expect(deadlines[step] - deadlines[step - 1] >= backoff.delay(afterFailures: step))
        }
        #expect(restarts == 5)
        #expect(await engine.state == .stopped)
    }

    @Test func restartsOverAWindowAreBoundedByTheBackoff() async throws {
        let backoff = EngineSupervisor.Backoff(initial: .milliseconds(10), maximum: .milliseconds(80), stableAfter: .seconds(30))
        let engine = supervisor("exit 3", backoff: backoff)
        let started = ContinuousClock.now
        await engine.start()
        try await Task.sleep(for: .milliseconds(600))
        let restarts = await engine.restarts
        let window = ContinuousClock.now - started
        // Delays 10, 20, 40, 80, 80…: n restarts need at least the first n delays. A loaded
        // machine can only make restarts later, so this bound holds however slow the host is.
        let fitting = (1...1_000).first { n in (0..<n).reduce(Duration.zero) { $0 + backoff.delay(afterFailures: $1) } > window }! - 1
        #expect(restarts <= fitting)
        try await waitFor { await engine.restarts >= 3 }
        await engine.stop(grace: .seconds(1))
        // The stop may find a run just started and end it.
        #expect([.exited(status: 3), .signalled(SIGTERM)].contains(await engine.lastExit))
    }

    @Test func aRunThatLastedResetsTheBackoff() async throws {
        // Every run lasts longer than stableAfter, so every delay is the initial one.
        let backoff = EngineSupervisor.Backoff(initial: .milliseconds(10), maximum: .seconds(10), stableAfter: .milliseconds(50))
        let engine = supervisor("sleep 0.1; exit 1", backoff: backoff)
        let updates = await engine.stateUpdates()
        await engine.start()
        var seen = 0
        for await state in updates {
            guard case .backingOff = state else { continue }
            seen += 1
            if seen == 3 { break }
        }
        await engine.stop(grace: .seconds(1))
        #expect(seen == 3)
        #expect(await engine.restarts == 2)
    }

    @Test func aLongRunningEngineStopsOnSIGTERMWithinTheGrace() async throws {
        let engine = EngineSupervisor(executable: "/bin/sleep", arguments: ["30"], backoff: .init(initial: .milliseconds(10)), logger: logger)
        await engine.start()
        let pid = try await runningPID(engine)
        let started = ContinuousClock.now
        // The grace is far longer than the bound: stopping before it means SIGTERM did it.
        await engine.stop(grace: .seconds(60))
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(await engine.lastExit == .signalled(SIGTERM))
        #expect(await engine.state == .stopped)
        #expect(await engine.restarts == 0)
        // Reaped, not a zombie: kill(2) finds no such process.
        #expect(kill(pid, 0) == -1 && errno == ESRCH)
    }

    @Test func anEngineThatIgnoresSIGTERMIsKilledAfterTheGrace() async throws {
        let ready = dir.child("ready")
        // The trap must be in place before the signal, hence the marker file.
        let engine = supervisor("trap '' TERM; touch '\(ready)'; while :; do sleep 0.05; done", backoff: .init(initial: .milliseconds(10)))
        await engine.start()
        let pid = try await runningPID(engine)
        try await waitFor { FileManager.default.fileExists(atPath: ready) }
        let started = ContinuousClock.now
        await engine.stop(grace: .milliseconds(300))
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(30))
        #expect(await engine.lastExit == .signalled(SIGKILL))
        #expect(kill(pid, 0) == -1 && errno == ESRCH)
    }

    @Test func stopLeavesNothingTheEngineStartedRunning() async throws {
        let workerPID = dir.child("worker")
        // A worker that ignores SIGTERM and outlives the engine's main process, as vLLM's can.
        let engine = supervisor("(trap '' TERM; exec sleep 30) & echo $! > '\(workerPID)'; wait",
                                backoff: .init(initial: .milliseconds(10)))
        await engine.start()
        _ = try await runningPID(engine)
        // The shell creates the file before it writes the number: wait for the number.
        var worker: Int32?
        try await waitFor {
            worker = (try? String(contentsOfFile: workerPID, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return worker != nil
        }
        guard let worker else { return }
        await engine.stop(grace: .milliseconds(300))
        try await expectGone(worker)
    }

    @Test func restartReplacesTheEngineAtOnceAndStopStillEndsIt() async throws {
        let engine = EngineSupervisor(executable: "/bin/sleep", arguments: ["30"], backoff: .init(initial: .seconds(30)), logger: logger)
        await engine.start()
        let first = try await runningPID(engine)
        await engine.restart(grace: .seconds(5))
        var second: Int32 = 0
        try await waitFor {
            if case let .running(pid) = await engine.state, pid != first { second = pid }
            return second != 0
        }
        #expect(kill(first, 0) == -1 && errno == ESRCH, "the old engine is gone")
        #expect(await engine.restarts == 0, "a reload is not a crash: no backoff, not counted")
        await engine.stop(grace: .seconds(5))
        #expect(await engine.state == .stopped)
        #expect(kill(second, 0) == -1 && errno == ESRCH)
        await engine.restart(grace: .seconds(1))
        #expect(await engine.state == .stopped, "a stopped engine is not restarted")
    }

    @Test func stopDuringBackoffPreventsTheNextStart() async throws {
        let runs = dir.child("runs")
        let engine = supervisor("echo run >> '\(runs)'; exit 3", backoff: .init(initial: .milliseconds(300)))
        await engine.start()
        try await waitFor { if case .backingOff = await engine.state { true } else { false } }
        await engine.stop(grace: .seconds(1))
        #expect(await engine.state == .stopped)
        try await Task.sleep(for: .milliseconds(500))
        #expect(await engine.restarts == 0)
        #expect(try String(contentsOfFile: runs, encoding: .utf8) == "run\n")
        await engine.start()
        #expect(await engine.state == .stopped, "a stopped supervisor stays stopped")
    }

    @Test func stopIsIdempotentAndConcurrentCallersAllWait() async throws {
        let engine = EngineSupervisor(executable: "/bin/sleep", arguments: ["30"], logger: logger)
        await engine.start()
        _ = try await runningPID(engine)
        async let first: Void = engine.stop(grace: .seconds(5))
        async let second: Void = engine.stop(grace: .seconds(5))
        _ = await (first, second)
        #expect(await engine.state == .stopped)
        await engine.stop()
        #expect(await engine.state == .stopped)
    }

    @Test func stopBeforeStartMeansNeverStart() async throws {
        let engine = EngineSupervisor(executable: "/bin/sleep", arguments: ["30"], logger: logger)
        await engine.stop()
        await engine.start()
        #expect(await engine.state == .stopped)
        var states: [EngineSupervisor.State] = []
        for await state in await engine.stateUpdates() { states.append(state) }
        #expect(states == [.stopped])
    }

    @Test func aMissingExecutableIsAFailureRetriedWithBackoff() async throws {
        let missing = dir.child("no-such-engine")
        let engine = EngineSupervisor(executable: missing, backoff: .init(initial: .milliseconds(10), maximum: .milliseconds(20)), logger: logger)
        await engine.start()
        try await waitFor { await engine.restarts >= 3 }
        if case let .backingOff(_, after) = await engine.state {
            #expect(after == .couldNotStart("\(missing) does not exist"))
        }
        await engine.stop(grace: .seconds(1))
        #expect(await engine.lastExit == .couldNotStart("\(missing) does not exist"))
        #expect(await engine.state == .stopped)
    }

    #if os(Linux)
    /// The supervisor runs on concurrency threads, which block most signals, and an agent under
    /// ServiceLifecycle ignores SIGTERM: the engine must inherit neither.
    @Test func theEngineStartsWithNoBlockedOrIgnoredSignals() async throws {
        let status = dir.child("status")
        let previous = signal(SIGUSR2, SIG_IGN)
        defer { signal(SIGUSR2, previous) }
        // cp is the engine itself, so /proc/self is the spawned process (a shell would show its own
        // transient masks).
        let engine = EngineSupervisor(executable: "/bin/cp", arguments: ["/proc/self/status", status],
                                      backoff: .init(initial: .seconds(10)), logger: logger)
        await engine.start()
        try await waitFor { await engine.lastExit != nil }
        await engine.stop(grace: .seconds(1))
        let masks = try String(contentsOfFile: status, encoding: .utf8).split(separator: "\n")
            .filter { $0.hasPrefix("SigBlk:") || $0.hasPrefix("SigIgn:") }
        // Signals 1–31 only: glibc keeps 32 and 33 for itself and sigfillset leaves them out.
        #expect(masks.map { UInt64($0.split(separator: "\t").last!, radix: 16)! & 0x7fff_ffff } == [0, 0], "\(masks)")
    }

    @Test func theEngineInheritsNoDescriptorButStandardOnes() async throws {
        let listing = dir.child("fds")
        _ = FileManager.default.createFile(atPath: dir.child("open"), contents: nil)
        let open = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.child("open")))
        defer { try? open.close() }
        let engine = EngineSupervisor(executable: "/bin/sh", arguments: ["-c", "ls /proc/$$/fd > '\(listing).tmp'; mv '\(listing).tmp' '\(listing)'"],
                                      backoff: .init(initial: .seconds(10)), logger: logger)
        await engine.start()
        try await waitFor { FileManager.default.fileExists(atPath: listing) }
        await engine.stop(grace: .seconds(1))
        let descriptors = try String(contentsOfFile: listing, encoding: .utf8).split(separator: "\n")
        #expect(!descriptors.contains(Substring("\(open.fileDescriptor)")))
        #expect(Set(descriptors).isSubset(of: ["0", "1", "2", "10"]), "the shell's own descriptor at most: \(descriptors)")
    }
    #endif

    @Test func theEnvironmentIsAddedToTheAgents() async throws {
        let out = dir.child("env")
        let engine = EngineSupervisor(
            executable: "/bin/sh", arguments: ["-c", "echo \"$AIRLOCK_TEST_MODEL:${PATH:+has-path}\" > '\(out)'; sleep 30"],
            environment: ["AIRLOCK_TEST_MODEL": "llama-3-8b"], logger: logger)
        await engine.start()
        try await waitFor { (try? String(contentsOfFile: out, encoding: .utf8))?.hasSuffix("\n") == true }
        await engine.stop(grace: .seconds(1))
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "llama-3-8b:has-path\n")
    }

    // MARK: helpers

    func runningPID(_ engine: EngineSupervisor) async throws -> Int32 {
        var pid: Int32 = 0
        try await waitFor {
            if case let .running(running) = await engine.state { pid = running }
            return pid != 0
        }
        return pid
    }
}

/// Polls `condition` every 5 ms until it holds; fails the test after `limit`. Limits here are
/// liveness bounds, not speed targets: generous, because the full suite runs every test at once
/// on two cores and a poll can wait seconds for a thread.
func waitFor(within limit: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
             _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    // Once more: a busy machine may not have run this task again until after the deadline.
    if try await condition() { return }
    Issue.record("condition not met within \(limit)", sourceLocation: sourceLocation)
    throw CancellationError()
}
