@testable import AirlockAgent
import AirlockTestSupport
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The agent's `/health` probe against an engine that closes connections without answering, as
/// a uvicorn-based engine (vLLM, SGLang) does to an idle keep-alive connection after 5 s — the
/// heartbeat's own period, so a probe can be sent on a connection at the instant it is closed.
@Suite struct EngineProbeTests {
    @Test func aConnectionClosedWithoutAnAnswerIsTriedOnceMore() async throws {
        let engine = try await DroppingEngine.start(dropping: 1)
        let session = Self.session(port: engine.port)
        #expect(await session.engineHealthy(), "the second attempt, on a new connection, is answered")
        #expect(engine.connections == 2)
        try await session.engineClient.shutdown()
        try await engine.stop()
    }

    @Test func anEngineThatKeepsClosingIsReportedFailed() async throws {
        let engine = try await DroppingEngine.start(dropping: .max)
        let session = Self.session(port: engine.port)
        #expect(await session.engineHealthy() == false)
        #expect(engine.connections == 2, "one retry, not more")
        try await session.engineClient.shutdown()
        try await engine.stop()
    }

    @Test func anEngineThatHangsIsReportedFailedWithoutASecondWait() async throws {
        let engine = try await DroppingEngine.start(dropping: 0, answering: false)
        let session = Self.session(port: engine.port)
        #expect(await session.engineHealthy() == false)
        #expect(engine.connections == 1, "a timeout is not tried again")
        try await session.engineClient.shutdown()
        try await engine.stop()
    }

    private static func session(port: Int) -> AgentSession {
        let directory = TemporaryDirectory()
        let settings = AgentSettings(state: AgentState(directory: directory.path), controlHost: "127.0.0.1", controlPort: 1,
                                     engineURL: "http://127.0.0.1:\(port)", models: ["m"], capacityTokensPerSecond: 1, zone: "z")
        return AgentSession(settings: settings, logger: Logger(label: "test"))
    }
}

/// A loopback HTTP server that closes the first `dropping` connections as soon as a request
/// arrives, then answers `200 ok` once per connection (or, not `answering`, never).
private final class DroppingEngine: Sendable {
    let channel: any Channel
    private let counter: Counter

    var port: Int { channel.localAddress?.port ?? 0 }
    /// Connections accepted so far.
    var connections: Int { counter.value.load(ordering: .relaxed) }

    private init(channel: any Channel, counter: Counter) {
        self.channel = channel
        self.counter = counter
    }

    static func start(dropping: Int, answering: Bool = true) async throws -> DroppingEngine {
        let counter = Counter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                let index = counter.next()
                return child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(Handler(drop: index < dropping, answer: answering))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return DroppingEngine(channel: channel, counter: counter)
    }

    func stop() async throws { try await channel.close() }

    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
        func next() -> Int { value.add(1, ordering: .relaxed).oldValue }
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let drop: Bool
        let answer: Bool
        var answered = false

        init(drop: Bool, answer: Bool) {
            self.drop = drop
            self.answer = answer
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if drop {
                context.close(promise: nil)
            } else if answer, !answered {
                answered = true
                let reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
                context.writeAndFlush(NIOAny(ByteBuffer(string: reply)), promise: nil)
            }
        }
    }
}
