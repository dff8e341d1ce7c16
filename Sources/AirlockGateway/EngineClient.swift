import AirlockCore
import AirlockScheduler
import AsyncHTTPClient
import NIOCore

/// The pooled HTTP client Airlock uses to reach engines: bounded connect and idle-read
/// timeouts, no redirects (an engine has no business sending one), no decompression.
public enum EngineClient {
    public static func make(_ settings: GatewaySettings) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .milliseconds(Int64(settings.connectTimeoutMillis)),
                                      read: .seconds(Int64(settings.readTimeoutSeconds)))
        configuration.connectionPool = .init(idleTimeout: .seconds(60),
                                             concurrentHTTP1ConnectionsPerHostSoftLimit: settings.maxIdleConnectionsPerEngine)
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// An engine request for `path` carrying `body` as JSON.
    static func request(_ node: LiveNode, path: String, body: ByteBuffer) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: node.engineURL + path)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "accept", value: "application/json, text/event-stream")
        request.body = .bytes(body)
        return request
    }
}
