import AirlockCore
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps the inference engine (vLLM, or `airlock-sim` in tests) running when the agent is told to
/// start it: launches it, and whenever it exits, for whatever reason, starts it again after a
/// growing delay, until `stop(grace:)`.
///
/// The engine runs in its own process group, and signals go to the whole group, as systemd does:
/// engines fork workers, and a worker left behind would hold GPU memory or the port and make the
/// next start fail. A supervisor supervises once; after `stop` it stays stopped (make a new one to
/// start again, e.g. with other arguments). Dropping it does not stop the engine: call `stop`.
public actor EngineSupervisor {
    /// How an engine run ended.
    public enum Exit: Sendable, Equatable, CustomStringConvertible {
        case exited(status: Int32)
        case signalled(Int32)
        /// The process could not be launched (missing or not executable); retried like a crash.
        case couldNotStart(String)

        init(_ ended: ChildSpawn.Ended) {
            switch ended {
            case let .exited(status): self = .exited(status: status)
            case let .signalled(signal): self = .signalled(signal)
            }
        }

        public var description: String {
            switch self {
            case let .exited(status): "exited with status \(status)"
            case let .signalled(signal): "killed by signal \(signal)"
            case let .couldNotStart(reason): "could not start: \(reason)"
            }
        }
    }

    /// The wait before each restart: `initial`, doubling with each consecutive failure up to
    /// `maximum`. A run that lasted `stableAfter` resets the count, so an engine that crashes
    /// after a day of service comes back at once rather than after the cap.
    public struct Backoff: Sendable, Equatable {
        public var initial: Duration
        public var maximum: Duration
        public var stableAfter: Duration

        public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(60), stableAfter: Duration = .seconds(60)) {
            precondition(initial > .zero && maximum >= initial, "backoff needs 0 < initial <= maximum")
            self.initial = initial
            self.maximum = maximum
            self.stableAfter = stableAfter
        }

        /// The delay after `failures` earlier consecutive failures (0: the first).
        public func delay(afterFailures failures: Int) -> Duration {
            var delay = initial
            for _ in 0..<max(0, failures) {
                if delay >= maximum { break }
                delay *= 2
            }
            return min(delay, maximum)
        }
    }

    public enum State: Sendable, Equatable {
        case starting
        case running(pid: Int32)
        /// Waiting to start again; `after` says how the last run ended.
        case backingOff(until: ContinuousClock.Instant, after: Exit)
        /// Not started yet, or stopped for good.
        case stopped
    }

    public nonisolated let executable: String
    public nonisolated let arguments: [String]
    public nonisolated let backoff: Backoff
    private let environment: [String: String]
    private let logger: Logger
    private let clock = ContinuousClock()

    public private(set) var state: State = .stopped
    /// Launches after the first, including failed ones.
    public private(set) var restarts = 0
    public private(set) var lastExit: Exit?

    private enum Phase { case idle, supervising, restarting, stopping, stopped }
    private var phase = Phase.idle
    private var loop: Task<Void, Never>?
    private var child: pid_t?
    private var watchers: [Int: AsyncStream<State>.Continuation] = [:]
    private var nextWatcher = 0

    /// `environment` is added to the agent's own environment.
    public init(executable: String, arguments: [String] = [], environment: [String: String] = [:],
                backoff: Backoff = Backoff(), logger: Logger) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.backoff = backoff
        self.logger = logger
    }

    /// Starts the engine and keeps it running. Does nothing if already started or stopped.
    public func start() {
        guard phase == .idle else { return }
        phase = .supervising
        loop = Task { await self.supervise() }
    }

    /// Sends SIGTERM to the engine, waits up to `grace` for it to exit, then sends SIGKILL; returns
    /// once it has exited and been reaped. No restart follows. Safe to call more than once.
    public func stop(grace: Duration = .seconds(10)) async {
        switch phase {
        case .idle:
            phase = .stopped
            set(.stopped)
            return
        case .stopping:
            await loop?.value
            return
        case .restarting:
            // The restart in progress sees this and does not start the engine again.
            phase = .stopping
            await loop?.value
            phase = .stopped
            set(.stopped)
            return
        case .stopped:
            return
        case .supervising:
            phase = .stopping
        }
        await endRun(grace: grace)
        phase = .stopped
        set(.stopped)
    }

    /// An engine reload: the running engine is stopped as `stop` does, then started again at
    /// once — not after a backoff, and not counted as a failure. Does nothing unless supervising.
    public func restart(grace: Duration = .seconds(10)) async {
        guard phase == .supervising else { return }
        phase = .restarting
        await endRun(grace: grace)
        guard phase == .restarting else { return }  // a stop() meanwhile wins
        phase = .supervising
        loop = Task { await self.supervise() }
    }

    /// Ends the supervision loop and the engine's process group: SIGTERM, SIGKILL after `grace`.
    private func endRun(grace: Duration) async {
        // Wakes a backoff sleep; waiting for an exit does not heed cancellation.
        loop?.cancel()
        var escalation: Task<Void, Never>?
        if let pid = child {
            logger.info("stopping engine", metadata: ["pid": "\(pid)", "grace_ms": "\(grace.milliseconds)"])
            kill(-pid, SIGTERM)
            escalation = Task { [logger] in
                guard (try? await Task.sleep(for: grace)) != nil else { return }
                logger.warning("engine still running after the grace period; killing it", metadata: ["pid": "\(pid)"])
                kill(-pid, SIGKILL)
            }
        }
        await loop?.value
        escalation?.cancel()
        loop = nil
    }

    /// The current state, then each change; finishes once stopped. Keeps the newest few if the
    /// reader falls behind: a state is a snapshot, not an event.
    public func stateUpdates() -> AsyncStream<State> {
        let (stream, continuation) = AsyncStream.makeStream(of: State.self, bufferingPolicy: .bufferingNewest(16))
        continuation.yield(state)
        if phase == .stopped {
            continuation.finish()
            return stream
        }
        let id = nextWatcher
        nextWatcher += 1
        watchers[id] = continuation
        continuation.onTermination = { _ in Task { await self.forget(id) } }
        return stream
    }

    private func forget(_ watcher: Int) { watchers[watcher] = nil }

    private func set(_ new: State) {
        state = new
        for continuation in watchers.values { continuation.yield(new) }
        if phase == .stopped {
            for continuation in watchers.values { continuation.finish() }
            watchers = [:]
        }
    }

    private func supervise() async {
        var failures = 0
        while phase == .supervising {
            let startedAt = clock.now
            set(.starting)
            // Launching is synchronous, so `stop` cannot slip in between the phase check and `child`.
            let exit: Exit
            switch launch() {
            case let .success(pid): exit = await watch(pid)
            case let .failure(failure): exit = .couldNotStart(failure.reason)
            }
            lastExit = exit
            guard phase == .supervising else {
                logger.info("engine stopped", metadata: ["exit": "\(exit)"])
                break
            }
            if clock.now - startedAt >= backoff.stableAfter { failures = 0 }
            let delay = backoff.delay(afterFailures: failures)
            failures += 1
            logger.warning("engine exited; starting it again after a delay",
                           metadata: ["exit": "\(exit)", "delay_ms": "\(delay.milliseconds)", "restarts": "\(restarts)"])
            set(.backingOff(until: clock.now + delay, after: exit))
            guard (try? await clock.sleep(for: delay)) != nil, phase == .supervising else { break }
            restarts += 1
        }
    }

    private func launch() -> Result<pid_t, ChildSpawn.Failure> {
        let environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pid: pid_t
        do {
            pid = try ChildSpawn.spawn(executable, arguments: arguments, environment: environment)
        } catch {
            return .failure(error)
        }
        child = pid
        set(.running(pid: pid))
        logger.info("engine started", metadata: ["pid": "\(pid)", "executable": "\(executable)"])
        return .success(pid)
    }

    /// Waits for the engine to exit and reaps it, then kills whatever it left in its process group.
    private func watch(_ pid: pid_t) async -> Exit {
        let exit = Exit(await ChildSpawn.exit(of: pid))
        child = nil
        kill(-pid, SIGKILL)
        return exit
    }
}

extension Duration {
    fileprivate var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}
