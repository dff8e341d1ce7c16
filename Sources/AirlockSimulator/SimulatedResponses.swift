import Foundation
import Hummingbird
import NIOCore

/// The JSON bodies of non-streamed responses and of stream chunks, shaped as vLLM shapes them.
enum SimulatedResponses {
    static func usage(_ request: SimulatedRequest, completionTokens: Int) -> [String: Any] {
        ["prompt_tokens": request.promptTokens, "completion_tokens": completionTokens,
         "total_tokens": request.promptTokens + completionTokens]
    }

    static func complete(_ request: SimulatedRequest, _ plan: GenerationPlan) -> [String: Any] {
        let text = (0..<plan.completionTokens).map(SimulatedText.token).joined()
        var body: [String: Any] = ["id": request.responseID, "created": Int(Date().timeIntervalSince1970),
                                   "model": request.model]
        switch request.kind {
        case .chat:
            body["object"] = "chat.completion"
            body["choices"] = [["index": 0, "message": ["role": "assistant", "content": text], "finish_reason": plan.finishReason]]
        default:
            body["object"] = "text_completion"
            body["choices"] = [["index": 0, "text": text, "finish_reason": plan.finishReason, "logprobs": NSNull()]]
        }
        if plan.reportsUsage { body["usage"] = usage(request, completionTokens: plan.completionTokens) }
        return body
    }

    static func chunk(_ request: SimulatedRequest, id: String, text: String?, finishReason: String?) -> [String: Any] {
        var body: [String: Any] = ["id": id, "created": Int(Date().timeIntervalSince1970), "model": request.model]
        let finish: Any = finishReason ?? NSNull()
        if request.kind == .chat {
            body["object"] = "chat.completion.chunk"
            let delta: [String: Any] = text.map { ["content": $0] } ?? [:]
            body["choices"] = [["index": 0, "delta": delta, "finish_reason": finish]]
        } else {
            body["object"] = "text_completion"
            body["choices"] = [["index": 0, "text": text ?? "", "finish_reason": finish, "logprobs": NSNull()]]
        }
        return body
    }
}

/// A streamed response: server-sent events, one token per chunk, then the usage chunk when the
/// client asked for it, then `[DONE]`. Dies without finishing the HTTP body when told to.
/// It counts in `metrics` from the body's start — a body never started never generated — to its
/// end, however it ends.
struct SimulatedStream: Sendable {
    struct EngineDied: Error {}

    var request: SimulatedRequest
    var plan: GenerationPlan
    var metrics: SimulatedMetrics
    var arrived: ContinuousClock.Instant

    func response() -> Response {
        let request = request
        let plan = plan
        let metrics = metrics
        let arrived = arrived
        let id = request.responseID
        let body = ResponseBody { writer in
            let generation = metrics.begin(model: request.model, began: arrived)
            var completed = false
            defer { metrics.end(generation, completed: completed) }
            try await plan.waitForFirstToken()
            for index in 0..<plan.completionTokens {
                if index > 0, let delay = plan.interTokenDelay { try await Task.sleep(for: delay) }
                if let die = plan.dieAfterTokens, index >= die { throw EngineDied() }
                metrics.produced(generation)
                try await writer.write(event(SimulatedResponses.chunk(request, id: id, text: SimulatedText.token(index), finishReason: nil)))
            }
            try await writer.write(event(SimulatedResponses.chunk(request, id: id, text: nil, finishReason: plan.finishReason)))
            if request.includeUsage, plan.reportsUsage {
                var last: [String: Any] = ["id": id, "object": request.kind == .chat ? "chat.completion.chunk" : "text_completion",
                                           "created": Int(Date().timeIntervalSince1970), "model": request.model, "choices": [Any]()]
                last["usage"] = SimulatedResponses.usage(request, completionTokens: plan.completionTokens)
                try await writer.write(event(last))
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            completed = true
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    private func event(_ object: [String: Any]) -> ByteBuffer {
        var buffer = ByteBuffer(string: "data: ")
        buffer.writeBytes((try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8))
        buffer.writeString("\n\n")
        return buffer
    }
}
