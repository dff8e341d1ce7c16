import NIOCore

/// Runs a task's jobs on one NIO event loop. A stream's relay runs on the loop of its client's
/// connection: the response writer then writes straight into the channel, and a token that the
/// engine's connection delivers on the same loop resumes the relay without a thread hand-off. On
/// Swift's global executor every token cost a wake-up of a pool thread and another of the loop
/// (docs/BENCHMARKS.md § gateway). Only work that never blocks may run under it: a blocked loop
/// stalls every connection it serves.
final class EventLoopExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Runs `operation` on `loop` if there is one, else where the caller runs.
func onLoop<T, Failure: Error>(_ loop: (any EventLoop)?, _ operation: () async throws(Failure) -> T) async throws(Failure) -> T {
    guard let loop else { return try await operation() }
    return try await withTaskExecutorPreference(EventLoopExecutor(loop), operation: operation)
}
