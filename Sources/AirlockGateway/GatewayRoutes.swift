import Foundation
import Hummingbird
import NIOCore

/// The HTTP surface on 8443 that this module owns: `/v1/*` plus `/healthz` and `/readyz`.
public enum GatewayRoutes {
    /// A readiness check: a name (`storage`, `engines`) and whether it passes.
    public typealias ReadinessCheck = @Sendable () async -> (String, Bool)

    /// `connectionLoop` gives the event loop of the connection a request came on, where its
    /// stream is sent and relayed (`EventLoopExecutor`); without it, on Swift's executor.
    public static func add<Context: RequestContext>(to router: Router<Context>, gateway: Gateway, readiness: [ReadinessCheck],
                                                    connectionLoop: @escaping @Sendable (Context) -> (any EventLoop)? = { _ in nil }) {
        router.add(middleware: OpenAIErrorMiddleware())
        router.get("/healthz") { _, _ in jsonResponse(.ok, #"{"status":"ok"}"#) }
        router.get("/readyz") { _, _ in
            var results: [(String, Bool)] = []
            for check in readiness { results.append(await check()) }
            let ready = results.allSatisfy(\.1)
            let checks = results.map { "\"\($0.0)\":\($0.1 ? "true" : "false")" }.joined(separator: ",")
            return jsonResponse(ready ? .ok : .serviceUnavailable, #"{"ready":\#(ready),"checks":{\#(checks)}}"#)
        }
        router.get("/v1/models") { request, _ in await gateway.models(request) }
        // Model names may hold slashes (`meta-llama/Llama-3.1-8B-Instruct`), which the SDKs put
        // in the path as they are: the rest of the path is the name.
        router.get("/v1/models/**") { request, context in
            let name = context.parameters.getCatchAll().joined(separator: "/")
            return await gateway.models(request, only: name.removingPercentEncoding ?? name)
        }
        for kind in InferenceKind.allCases {
            router.post(RouterPath(kind.rawValue)) { request, context in await gateway.handle(kind, request, loop: connectionLoop(context)) }
        }
    }

    static func jsonResponse(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Turns the router's own errors (no such route, wrong method, unreadable request) into
/// OpenAI-shaped JSON, so every `/v1` answer has the same shape.
struct OpenAIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let openAI: OpenAIError
            switch error.status {
            case .notFound:
                openAI = OpenAIError(status: .notFound, message: "Unknown request URL: \(request.method.rawValue) \(request.uri.path.clipped()).",
                                     type: "invalid_request_error", code: "unknown_url")
            case .methodNotAllowed:
                openAI = OpenAIError(status: .methodNotAllowed, message: "\(request.method.rawValue) is not allowed on \(request.uri.path.clipped()).",
                                     type: "invalid_request_error", code: "method_not_allowed")
            default:
                openAI = OpenAIError(status: error.status, message: "The request could not be processed.", type: "invalid_request_error")
            }
            return Response(status: openAI.status, headers: [.contentType: "application/json"], body: .init(byteBuffer: openAI.body))
        }
    }
}
