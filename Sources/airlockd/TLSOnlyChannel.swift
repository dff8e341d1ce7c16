import AirlockGateway
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

extension HTTPServerBuilder {
    /// HTTP/1.1 over TLS only. A client that speaks plain HTTP to the TLS port gets a plain
    /// `400` with an OpenAI-shaped `tls_required` error instead of a dropped connection, so the
    /// mistake is obvious from curl or an SDK log. Idle keep-alive connections close after 75 s;
    /// a request that takes longer than `requestReadSeconds` to arrive is cut off
    /// (``RequestReadDeadline``).
    static func tlsOnly(_ tlsConfiguration: TLSConfiguration, requestReadSeconds: Int, logger: Logger) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            let http = HTTP1Channel(responder: responder, configuration: .init(
                additionalChannelHandlers: [RequestReadDeadline(seconds: requestReadSeconds, logger: logger)],
                idleTimeout: .seconds(75)))
            return TLSOnlyChannel(base: try TLSChannel(http, tlsConfiguration: tlsConfiguration))
        }
    }
}

/// Puts ``PlaintextRefusal`` in front of the TLS handler of each connection.
struct TLSOnlyChannel<Base: ServerChildChannel>: ServerChildChannel {
    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Base.Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(PlaintextRefusal())
        }.flatMap { base.setup(channel: channel, logger: logger) }
    }

    func handle(value: Base.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Looks at the first byte of a connection: a TLS handshake starts with 0x16; an HTTP request
/// starts with an upper-case method letter. Once it has seen TLS it steps out of the pipeline.
final class PlaintextRefusal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let response: String = {
        let body = #"{"error":{"message":"This port speaks HTTPS only. Use https://.","type":"invalid_request_error","param":null,"code":"tls_required"}}"#
        return "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
    }()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) {
            let channel = context.channel
            context.writeAndFlush(wrapInboundOut(ByteBuffer(string: Self.response))).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
