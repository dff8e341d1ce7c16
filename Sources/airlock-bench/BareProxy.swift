import AirlockCore
import AirlockGateway
import ArgumentParser
import AsyncHTTPClient
import Hummingbird
import HummingbirdTLS
import NIOCore
import NIOSSL

/// A TLS reverse proxy that does nothing but forward `POST` bodies to one engine: the references
/// the gateway benchmark puts beside airlockd (`--reference` nio, hb_nio, stack). `--stack hummingbird` is
/// airlockd's own stack with none of Airlock's work — Hummingbird 2 over TLS, the request body
/// collected, the engine called through async-http-client configured as `EngineClient` does and
/// collected by its `ResponseAccumulator`, as airlockd collects a non-streamed answer. `--stack
/// nio` is the same proxy written as bare SwiftNIO channel handlers (``BareNIOProxy``), and
/// `--stack hummingbird-nio` Hummingbird's server with a bare SwiftNIO client (``BareEnginePool``).
/// The steps between them price Hummingbird's server and async-http-client; the gap between
/// `hummingbird` and airlockd is what Airlock's own work costs (docs/BENCHMARKS.md § gateway).
struct BareProxy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bare-proxy", abstract: "A TLS proxy to one engine and nothing else (gateway benchmark reference).",
        shouldDisplay: false)

    enum Stack: String, ExpressibleByArgument { case hummingbird, nio, hummingbirdNIO = "hummingbird-nio" }

    @Option(help: "Loopback port to serve HTTPS on.") var port: Int
    @Option(help: "Loopback port of the engine (plain HTTP).") var enginePort: Int
    @Option(help: "PEM certificate chain for TLS.") var certificate: String
    @Option(help: "PEM private key for TLS.") var key: String
    @Option(help: "hummingbird (airlockd's stack), nio (bare channel handlers) or hummingbird-nio (Hummingbird, bare client).")
    var stack: Stack = .hummingbird

    func run() async throws {
        let tls = try TLSConfiguration.makeServerConfiguration(
            certificateChain: NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        switch stack {
        case .nio:
            try await BareNIOProxy.run(port: port, enginePort: enginePort, tls: tls)
        case .hummingbird, .hummingbirdNIO:
            try await runHummingbird(tls: tls)
        }
    }

    /// Hands each request's loop to the handler, for the bare client.
    struct LoopContext: RequestContext {
        var coreContext: CoreRequestContextStorage
        let loop: any EventLoop

        init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            loop = source.channel.eventLoop
        }
    }

    private func runHummingbird(tls: TLSConfiguration) async throws {
        let client = EngineClient.make(GatewaySettings())
        let pool = BareEnginePool(port: enginePort)
        let engine = "http://127.0.0.1:\(enginePort)"
        let bare = stack == .hummingbirdNIO
        let router = Router(context: LoopContext.self)
        router.get("/healthz") { _, _ in "ok" }
        router.post("/v1/**") { request, context -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            if bare {
                let (status, answer) = try await pool.post(request.uri.path, body: body, on: context.loop).get()
                return Response(status: .init(code: Int(status.code)), headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: answer))
            }
            let forwarded = try HTTPClient.Request(url: engine + request.uri.path, method: .POST,
                                                   headers: ["content-type": "application/json"], body: .byteBuffer(body))
            let answer = try await client.execute(request: forwarded, delegate: ResponseAccumulator(request: forwarded),
                                                  deadline: nil).get()
            return Response(status: .init(code: Int(answer.status.code)), headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: answer.body ?? ByteBuffer()))
        }
        let app = Application(router: router, server: try .tls(.http1(), tlsConfiguration: tls),
                              configuration: .init(address: .hostname("127.0.0.1", port: port)))
        try await app.runService()
        try await client.shutdown()
    }
}
