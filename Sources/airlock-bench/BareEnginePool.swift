import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Engine connections kept per event loop and used from the loop that asks: the engine side of
/// `bare-proxy --stack hummingbird-nio`, which puts a bare SwiftNIO client behind Hummingbird's
/// server to tell the server's cost from async-http-client's. Benchmark code only: no timeouts,
/// no limits, no retries.
final class BareEnginePool: Sendable {
    private let port: Int
    private let idle = NIOLockedValueBox([ObjectIdentifier: [BareEngineConnection]]())

    init(port: Int) {
        self.port = port
    }

    /// Posts `body` to `uri` over a connection on `loop`: the answer's status and body.
    func post(_ uri: String, body: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<(HTTPResponseStatus, ByteBuffer)> {
        let promise = loop.makePromise(of: (HTTPResponseStatus, ByteBuffer).self)
        loop.execute {
            let key = ObjectIdentifier(loop)
            let send = { (connection: BareEngineConnection) in
                connection.post(uri, body: body) { status, answer in
                    if status != .badGateway { self.idle.withLockedValue { $0[key, default: []].append(connection) } }
                    promise.succeed((status, answer))
                }
            }
            // The engine closes a connection idle for 5 s (as vLLM does): skip those.
            while let connection = self.idle.withLockedValue({ $0[key]?.popLast() }) {
                if connection.channel.isActive { return send(connection) }
            }
            BareEngineConnection.open(port: self.port, on: loop).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let connection): send(connection)
                case .failure(let error): promise.fail(error)
                }
            }
        }
        return promise.futureResult
    }
}
