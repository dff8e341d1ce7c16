import NIOCore
import NIOHTTP1
import NIOPosix

/// One plain HTTP/1.1 connection from a bare proxy to the engine, on one event loop, and the
/// handler that collects each answer: `--stack nio` keeps one per client connection,
/// ``BareEnginePool`` (`--stack hummingbird-nio`) keeps them per loop. Benchmark code only: one
/// request at a time, no timeouts.
struct BareEngineConnection: Sendable {
    let channel: any Channel
    private let answers: Answers

    /// Connects to the engine on `loop`; the future completes there.
    static func open(port: Int, on loop: any EventLoop) -> EventLoopFuture<BareEngineConnection> {
        let answers = Answers()
        return ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(answers)
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .map { BareEngineConnection(channel: $0, answers: answers) }
    }

    /// Posts `body` as JSON to `uri`; `done` gets the answer's status and body on the
    /// connection's loop (502 and nothing if the connection closes first). Call it on that loop.
    func post(_ uri: String, body: ByteBuffer, then done: @escaping (HTTPResponseStatus, ByteBuffer) -> Void) {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: uri)
        head.headers.add(name: "host", value: "127.0.0.1")
        head.headers.add(name: "content-type", value: "application/json")
        head.headers.add(name: "content-length", value: "\(body.readableBytes)")
        answers.done = done
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    /// Collects one answer and hands it to whoever posted. Touched only on its connection's loop.
    final class Answers: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart

        var status = HTTPResponseStatus.badGateway
        var body = ByteBuffer()
        var done: ((HTTPResponseStatus, ByteBuffer) -> Void)?

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = head.status; body.clear()
            case .body(var part): body.writeBuffer(&part)
            case .end: finish(status, body)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish(.badGateway, ByteBuffer())
        }

        private func finish(_ status: HTTPResponseStatus, _ body: ByteBuffer) {
            let done = self.done
            self.done = nil
            done?(status, body)
        }
    }
}
