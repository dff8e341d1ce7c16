import Logging
import NIOCore
import NIOHTTPTypes

/// Bounds the time a request may take to arrive, from its head to the end of its body. Without
/// it a client that sends its body a byte a minute holds its connection, and the bytes read so
/// far, for ever: Hummingbird's idle timer (75 s) restarts at every request part, and every
/// byte that arrives is a part. The same slow sender cannot tie up an admission slot (bodies are
/// read before admission), but it can tie up sockets and memory, one connection at a time.
///
/// When the deadline passes, the request's body stream fails with ``RequestReadTimeout``: the
/// gateway answers 408 `request_timeout` (one outcome, no row, nothing admitted), and
/// Hummingbird closes the connection when its next read of the stream fails. A handler that did
/// not read the body (a 401, say) has already answered; the connection is closed the same way.
/// The timer lives on the connection's event loop: scheduling and cancelling it is a heap
/// insertion and removal on that loop, nothing per byte.
public final class RequestReadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart

    private let seconds: Int
    private let logger: Logger
    private var timer: Scheduled<Void>?

    public init(seconds: Int, logger: Logger) {
        self.seconds = seconds
        self.logger = logger
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            timer?.cancel()
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(in: .seconds(Int64(seconds))) { bound.value.handler.expire(bound.value.context) }
        case .end:
            timer?.cancel()
            timer = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    private func expire(_ context: ChannelHandlerContext) {
        timer = nil
        GatewayMetrics.requestReadTimedOut()
        logger.info("request not received in time; closing the connection", metadata: [
            "seconds": "\(seconds)",
            "peer": "\(context.channel.remoteAddress?.description ?? "?")",
        ])
        context.fireErrorCaught(RequestReadTimeout(seconds: seconds))
    }
}

/// The error a request's body stream fails with when ``RequestReadDeadline`` passes.
public struct RequestReadTimeout: Error, Sendable, Equatable {
    public var seconds: Int
}
