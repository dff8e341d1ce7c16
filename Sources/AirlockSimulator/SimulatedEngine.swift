import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// An OpenAI-compatible engine without a GPU: `/v1/chat/completions`, `/v1/completions`
/// (streaming and not), `/v1/embeddings`, `/v1/models`, `/health`. It answers with correct
/// `usage`, at a configurable token rate, and fails on request (settings or prompt directives).
/// `GET /sim/stats` says how many inference requests it has received, so that end-to-end tests
/// can tell which engine a request reached while it is still in flight. `GET /metrics` serves
/// vLLM's own figures (requests running and waiting, tokens generated, end-to-end latency), which
/// a node agent reads as it reads vLLM's.
public struct SimulatedEngine: Sendable {
    public let settings: SimulatorSettings
    private let received = ReceivedCount()
    private let metrics: SimulatedMetrics
    private static let requestIDHeader = HTTPField.Name("x-request-id")!

    public init(settings: SimulatorSettings) {
        self.settings = settings
        metrics = SimulatedMetrics(models: settings.models)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/health") { _, _ in Response(status: .ok) }
        router.get("/v1/models") { _, _ in json(.ok, modelList()) }
        router.get("/sim/stats") { _, _ in json(.ok, ["requests_received": received.value.load(ordering: .relaxed)]) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.post("/v1/chat/completions") { request, _ in try await serve(.chat, request) }
        router.post("/v1/completions") { request, _ in try await serve(.completion, request) }
        router.post("/v1/embeddings") { request, _ in try await serve(.embedding, request) }
        return router
    }

    private func modelList() -> [String: Any] {
        ["object": "list", "data": settings.models.map { ["id": $0, "object": "model", "created": 0, "owned_by": "airlock-sim"] }]
    }

    private func serve(_ kind: SimulatedRequest.Kind, _ request: Request) async throws -> Response {
        let arrived = ContinuousClock.now
        var request = request
        let body = try await request.collectBody(upTo: 64 * 1024 * 1024)
        received.value.add(1, ordering: .relaxed)
        guard var parsed = SimulatedRequest(kind: kind, body: Data(buffer: body)) else {
            return error(.badRequest, "the body is not a JSON object with a model", code: "invalid_request")
        }
        parsed.requestID = request.headers[Self.requestIDHeader]
        guard settings.models.contains(parsed.model) else {
            return error(.notFound, "model '\(parsed.model)' is not served here", code: "model_not_found")
        }
        let directives = SimulatorDirectives(prompt: parsed.promptText)
        if let status = directives.status { return olderVLLMError(status, authority: request.head.authority) }
        if directives.fail || Double.random(in: 0..<1) < settings.failureRate {
            return error(.internalServerError, "simulated engine failure", code: "simulated_failure")
        }
        let plan = GenerationPlan(request: parsed, settings: settings, directives: directives)
        if kind == .embedding { return embeddings(parsed) }
        if parsed.stream { return SimulatedStream(request: parsed, plan: plan, metrics: metrics, arrived: arrived).response() }
        let generation = metrics.begin(model: parsed.model, began: arrived)
        var completed = false
        defer { metrics.end(generation, completed: completed) }
        try await plan.waitForFirstToken()
        metrics.pace(generation, tokens: plan.completionTokens, every: plan.interTokenDelay)
        try await plan.waitForTokens()
        completed = true
        return json(.ok, SimulatedResponses.complete(parsed, plan))
    }

    private func embeddings(_ request: SimulatedRequest) -> Response {
        let data = request.texts.enumerated().map { index, text in
            ["object": "embedding", "index": index,
             "embedding": SimulatedText.embedding(of: text, dimensions: settings.embeddingDimensions)] as [String: Any]
        }
        var body: [String: Any] = ["object": "list", "data": data, "model": request.model]
        if settings.reportsUsage { body["usage"] = ["prompt_tokens": request.promptTokens, "total_tokens": request.promptTokens] }
        return json(.ok, body)
    }
}

private final class ReceivedCount: Sendable {
    let value = Atomic<Int>(0)
}

/// What one request will generate, and how fast.
struct GenerationPlan: Sendable {
    var completionTokens: Int
    var finishReason: String
    var tokensPerSecond: Double
    var timeToFirstTokenMillis: Int
    var dieAfterTokens: Int?
    var reportsUsage: Bool

    init(request: SimulatedRequest, settings: SimulatorSettings, directives: SimulatorDirectives) {
        let limit = request.maxTokens ?? settings.defaultMaxTokens
        completionTokens = max(0, min(limit, settings.defaultMaxTokens * 64))
        finishReason = request.maxTokens == nil ? "stop" : "length"
        tokensPerSecond = directives.tokensPerSecond ?? settings.tokensPerSecond
        timeToFirstTokenMillis = directives.timeToFirstTokenMillis ?? settings.timeToFirstTokenMillis
        dieAfterTokens = directives.dieAfterTokens ?? settings.dieAfterTokens
        reportsUsage = settings.reportsUsage && !directives.noUsage
    }

    var interTokenDelay: Duration? {
        tokensPerSecond > 0 ? .nanoseconds(Int64(1e9 / tokensPerSecond)) : nil
    }

    func waitForFirstToken() async throws {
        if timeToFirstTokenMillis > 0 { try await Task.sleep(for: .milliseconds(timeToFirstTokenMillis)) }
    }

    func waitForTokens() async throws {
        if let delay = interTokenDelay, completionTokens > 0 { try await Task.sleep(for: delay * completionTokens) }
    }
}

func json(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
    let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// `[sim:status=N]`: an error in the shape vLLM used before it adopted OpenAI's (top-level
/// `message`, `"object": "error"`), worded as engines word theirs for their operators — with the
/// engine's address and a model path, which Airlock must not pass on to its clients.
private func olderVLLMError(_ status: Int, authority: String?) -> Response {
    let message = "simulated error \(status) at http://\(authority ?? "127.0.0.1:8000")/v1 (model files in /srv/models/sim-small)"
    return json(.init(code: status), ["object": "error", "message": message, "type": "BadRequestError", "param": NSNull(), "code": status])
}

private func error(_ status: HTTPResponse.Status, _ message: String, code: String) -> Response {
    json(status, ["error": ["message": message, "type": "invalid_request_error", "param": NSNull(), "code": code]])
}
