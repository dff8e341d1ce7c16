import NIOCore
import NIOPosix
import Testing

@testable import AirlockGateway

@Suite("Streams relay on their connection's event loop")
struct EventLoopExecutorTests {
    @Test("a task that prefers the executor runs on its loop, and comes back to it after every suspension")
    func staysOnTheLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loop = group.next()
        let other = group.next()
        let seen = try await withTaskExecutorPreference(EventLoopExecutor(loop)) {
            var seen = [loop.inEventLoop]
            // Resumed from another loop (as a chunk from an engine connection on it would be).
            try await other.submit { }.get()
            seen.append(loop.inEventLoop)
            await Task.yield()
            seen.append(loop.inEventLoop)
            try await Task.sleep(for: .milliseconds(1))
            seen.append(loop.inEventLoop)
            return seen
        }
        #expect(seen == [true, true, true, true])
        // `onLoop` is the same with a loop, and leaves the task where it is without one.
        #expect(await onLoop(loop) { loop.inEventLoop })
        #expect(await onLoop(nil) { !loop.inEventLoop && !other.inEventLoop })
        try await group.shutdownGracefully()
    }
}
