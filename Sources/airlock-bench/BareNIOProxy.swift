import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The bare-proxy reference written as SwiftNIO channel handlers only: TLS and HTTP/1.1 on the
/// client's connection, and one plain HTTP/1.1 connection to the engine per client connection, on
/// the same event loop, so that a request never leaves the thread that read it and no task runs.
/// It is what SwiftNIO itself costs per proxied request on this machine. Benchmark code only: it
/// assumes one request at a time per connection (wrk's keep-alive) and knows no limits.
enum BareNIOProxy {
    static func run(port: Int, enginePort: Int, tls: TLSConfiguration) async throws {
        let context = try NIOSSLContext(configuration: tls)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ClientSide(enginePort: enginePort))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        try await server.closeFuture.get()
    }

    /// The client's connection: collects a request, sends it to the engine, writes the answer back.
    final class ClientSide: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let enginePort: Int
        var engine: BareEngineConnection?
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(enginePort: Int) { self.enginePort = enginePort }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head; body.clear()
            case .body(var part): body.writeBuffer(&part)
            case .end: forward(context: context)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            engine?.channel.close(promise: nil)
            context.fireChannelInactive()
        }

        private func forward(context: ChannelHandlerContext) {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let reply: (HTTPResponseStatus, ByteBuffer) -> Void = { status, answer in
                let (handler, context) = bound.value
                var head = HTTPResponseHead(version: .http1_1, status: status)
                head.headers.add(name: "content-type", value: "application/json")
                head.headers.add(name: "content-length", value: "\(answer.readableBytes)")
                context.write(handler.wrapOutboundOut(.head(head)), promise: nil)
                context.write(handler.wrapOutboundOut(.body(.byteBuffer(answer))), promise: nil)
                context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
            }
            let (uri, body) = (head?.uri ?? "/", self.body)
            // The engine closes a connection idle for 5 s (as vLLM does): open another then.
            if let engine, engine.channel.isActive { return engine.post(uri, body: body, then: reply) }
            BareEngineConnection.open(port: enginePort, on: context.eventLoop).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let engine):
                    bound.value.0.engine = engine
                    engine.post(uri, body: body, then: reply)
                case .failure:
                    reply(.badGateway, ByteBuffer())
                }
            }
        }
    }
}
