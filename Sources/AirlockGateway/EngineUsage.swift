import Foundation

/// Token counts for one request, from the engine's `usage` or estimated by Airlock.
struct TokenUsage: Sendable, Equatable {
    var promptTokens: Int64
    var completionTokens: Int64
    var estimated: Bool

    var totalTokens: Int64 { promptTokens + completionTokens }

    /// The engine's `usage` object, if it is a sane one.
    static func reported(in object: [String: Any]) -> TokenUsage? {
        guard let usage = object["usage"] as? [String: Any],
              let prompt = usage["prompt_tokens"].flatMap(JSONValues.integer), prompt >= 0
        else { return nil }
        let completion = usage["completion_tokens"].flatMap(JSONValues.integer) ?? 0
        guard completion >= 0 else { return nil }
        return TokenUsage(promptTokens: prompt, completionTokens: completion, estimated: false)
    }
}

/// Follows a streamed response event by event: keeps the engine's usage chunk (and strips it
/// from the client's stream unless the client asked for it), counts what was generated so an
/// interrupted stream can still be billed, and notes the finish reason and any error event.
struct StreamAccounting {
    let clientWantsUsage: Bool
    private(set) var usage: TokenUsage?
    private(set) var contentChunks: Int64 = 0
    private(set) var contentCharacters = 0
    private(set) var finishReason: String?
    private(set) var sawDone = false
    private(set) var sawError = false

    init(clientWantsUsage: Bool) {
        self.clientWantsUsage = clientWantsUsage
    }

    /// Records `payload` (an event's data) and says whether the event goes to the client.
    mutating func observe(_ payload: String?) -> Bool {
        guard let payload else { return true }
        if payload == "[DONE]" {
            sawDone = true
            return true
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any] else { return true }
        if object["error"] != nil {
            sawError = true
            return true
        }
        let choices = object["choices"] as? [Any] ?? []
        if let reported = TokenUsage.reported(in: object) {
            usage = reported
            // The usage chunk proper (no choices) is the one a client must have asked for.
            if choices.isEmpty { return clientWantsUsage }
        }
        for case let choice as [String: Any] in choices {
            let delta = choice["delta"] as? [String: Any]
            let text = (delta?["content"] as? String) ?? (choice["text"] as? String) ?? ""
            let tools = delta?["tool_calls"] != nil
            if !text.isEmpty || tools {
                contentChunks += 1
                contentCharacters += text.utf8.count
            }
            if let reason = choice["finish_reason"] as? String { finishReason = reason }
        }
        return true
    }

    /// The usage to bill: the engine's, or — if it never sent one (no usage support, death,
    /// client gone) — the prompt estimate plus what was seen generated, marked estimated.
    func billedUsage(promptEstimate: Int64) -> TokenUsage {
        if let usage { return usage }
        // Engines stream one token per chunk by default (vLLM's stream_interval=1), so chunks are
        // the better count; the text estimate covers a stream of chunks without text.
        let generated = contentChunks > 0 ? contentChunks : TokenEstimate.tokens(forCharacters: contentCharacters)
        return TokenUsage(promptTokens: promptEstimate, completionTokens: generated, estimated: true)
    }
}
