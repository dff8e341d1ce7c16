import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// Plain HTTP/1.1 connections to one engine, kept per event loop and used from the loop that asks:
/// the engine side of `bare-proxy --stack hummingbird-nio`, which puts a bare SwiftNIO client
/// behind Hummingbird's server to tell the server's cost from async-http-client's. Benchmark code
/// only: no timeouts, no limits, no retries.
final class BareEnginePool: Sendable {
    private let port: Int
    private let idle = NIOLockedValueBox([ObjectIdentifier: [(channel: any Channel, side: BareNIOProxy.EngineSide)]]())

    init(port: Int) {
        self.port = port
    }

    /// Posts `body` to `uri` over a connection on `loop`: the answer's status and body.
    func post(_ uri: String, body: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<(HTTPResponseStatus, ByteBuffer)> {
        let promise = loop.makePromise(of: (HTTPResponseStatus, ByteBuffer).self)
        loop.execute {
            let key = ObjectIdentifier(loop)
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: uri)
            head.headers.add(name: "host", value: "127.0.0.1")
            head.headers.add(name: "content-type", value: "application/json")
            head.headers.add(name: "content-length", value: "\(body.readableBytes)")
            let send: (any Channel, BareNIOProxy.EngineSide) -> Void = { channel, side in
                side.done = { status, answer in
                    if status != .badGateway { self.idle.withLockedValue { $0[key, default: []].append((channel, side)) } }
                    promise.succeed((status, answer))
                }
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }
            // The engine closes a connection idle for 5 s (as vLLM does): skip those.
            while let (channel, side) = self.idle.withLockedValue({ $0[key]?.popLast() }) {
                if channel.isActive { return send(channel, side) }
            }
            let side = BareNIOProxy.EngineSide()
            ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(side)
                    }
                }
                .connect(host: "127.0.0.1", port: self.port)
                .assumeIsolated()
                .whenComplete { result in
                    switch result {
                    case .success(let channel): send(channel, side)
                    case .failure(let error): promise.fail(error)
                    }
                }
        }
        return promise.futureResult
    }
}
