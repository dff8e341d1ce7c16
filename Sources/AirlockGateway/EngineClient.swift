import AirlockCore
import AirlockScheduler
import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// The pooled HTTP client Airlock uses to reach engines: bounded connect and idle-read
/// timeouts, no redirects (an engine has no business sending one), no decompression.
public enum EngineClient {
    /// The client for requests. Its pool holds up to `max_connections_per_engine` connections per
    /// engine: async-http-client makes a request beyond that wait for a free connection and fail
    /// after the connect timeout, so the gateway never sends more than that many to one node
    /// (`LiveNode.tryStart`), and a full node is passed over instead.
    public static func make(_ settings: GatewaySettings) -> HTTPClient {
        client(settings, connections: settings.maxConnectionsPerEngine)
    }

    /// The client for static engines' `/health` probes: a pool of its own, so that a probe never
    /// queues behind requests on a full node and marks a busy engine dead.
    public static func makeProber(_ settings: GatewaySettings) -> HTTPClient {
        client(settings, connections: 1)
    }

    private static func client(_ settings: GatewaySettings, connections: Int) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .milliseconds(Int64(settings.connectTimeoutMillis)),
                                      read: .seconds(Int64(settings.readTimeoutSeconds)))
        configuration.connectionPool = .init(idleTimeout: .seconds(Int64(settings.engineKeepAliveSeconds)),
                                             concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        // No tracer: nothing in the appliance collects spans, and the default no-op tracer still
        // parses every engine URL into Foundation's `URL` per request (~2 % of airlockd's CPU).
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// The headers of every engine request. `x-request-id` carries Airlock's request id (the
    /// ledger row's): vLLM takes it as its own request id, so its logs and the answer's id
    /// (`chatcmpl-req_…`) name the same request as the ledger, the client and Airlock's log.
    static func headers(requestID: String) -> HTTPHeaders {
        ["content-type": "application/json", "accept": "application/json, text/event-stream", "x-request-id": requestID]
    }

    /// An engine request for `path` carrying `body` as JSON, for a streamed answer.
    static func request(_ node: LiveNode, path: String, body: ByteBuffer, requestID: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: node.engineURL + path)
        request.method = .POST
        request.headers = headers(requestID: requestID)
        request.body = .bytes(body)
        return request
    }

    /// Posts `body` to `path` and collects the whole answer (at most `limit` bytes, else
    /// `ResponseTooBigError`). Cancelling the calling task cancels the request.
    static func collect(_ client: HTTPClient, _ node: LiveNode, path: String, body: ByteBuffer, requestID: String,
                        upTo limit: Int) async throws -> HTTPClient.Response {
        let request = try HTTPClient.Request(url: node.engineURL + path, method: .POST, headers: headers(requestID: requestID),
                                             body: .byteBuffer(body))
        let task = client.execute(request: request, delegate: ResponseAccumulator(request: request, maxBodySize: limit), deadline: nil)
        return try await withTaskCancellationHandler {
            try await task.futureResult.get()
        } onCancel: {
            task.cancel()
        }
    }
}
