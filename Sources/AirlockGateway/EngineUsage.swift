import Foundation
import NIOCore
import NIOFoundationCompat

/// Token counts for one request, from the engine's `usage` or estimated by Airlock.
struct TokenUsage: Sendable, Equatable {
    var promptTokens: Int64
    var completionTokens: Int64
    var estimated: Bool

    var totalTokens: Int64 { promptTokens + completionTokens }

    /// The engine's `usage` object, if it is a sane one.
    static func reported(in reply: EngineReply) -> TokenUsage? {
        guard let prompt = reply.usage?.promptTokens, prompt >= 0 else { return nil }
        let completion = reply.usage?.completionTokens ?? 0
        guard completion >= 0 else { return nil }
        return TokenUsage(promptTokens: prompt, completionTokens: completion, estimated: false)
    }
}

/// What Airlock reads from an engine's JSON reply or stream chunk: usage, per choice the finish
/// reason and generated text, and whether it is an error (with its message). Decoded leniently — a field of an
/// unexpected shape reads as absent — and without building the rest of the document (an
/// embeddings reply is mostly numbers Airlock never looks at).
struct EngineReply: Decodable {
    struct Usage: Decodable {
        var promptTokens: Int64?
        var completionTokens: Int64?
        enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens" }
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            promptTokens = container.wholeNumber(.promptTokens)
            completionTokens = container.wholeNumber(.completionTokens)
        }
    }

    struct Choice: Decodable {
        var finishReason: String?
        /// `message.content` (chat), `delta.content` (chat stream) or `text` (completions).
        var text: String?
        var hasToolCalls = false
        enum CodingKeys: String, CodingKey { case finishReason = "finish_reason", message, delta, text }
        enum MessageKeys: String, CodingKey { case content, toolCalls = "tool_calls" }
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            finishReason = try? container.decodeIfPresent(String.self, forKey: .finishReason)
            // `contains` before each read: a thrown DecodingError (with its coding path and
            // description) costs more than decoding the whole reply.
            for key in [CodingKeys.message, .delta] where container.contains(key) {
                guard let message = try? container.nestedContainer(keyedBy: MessageKeys.self, forKey: key) else { continue }
                if text == nil, message.contains(.content) { text = try? message.decodeIfPresent(String.self, forKey: .content) }
                hasToolCalls = hasToolCalls || (message.contains(.toolCalls) && (try? message.decodeNil(forKey: .toolCalls)) == false)
            }
            if text == nil, container.contains(.text) { text = try? container.decodeIfPresent(String.self, forKey: .text) }
        }
    }

    var usage: Usage?
    var choices: [Choice]
    var isError: Bool
    /// `error.message`, when the reply is an error that has one.
    var errorMessage: String?

    enum CodingKeys: String, CodingKey { case usage, choices, error }
    enum ErrorKeys: String, CodingKey { case message }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        usage = try? container.decodeIfPresent(Usage.self, forKey: .usage)
        choices = (try? container.decodeIfPresent([Choice].self, forKey: .choices)) ?? []
        isError = container.contains(.error)
        if isError, let error = try? container.nestedContainer(keyedBy: ErrorKeys.self, forKey: .error), error.contains(.message) {
            errorMessage = try? error.decodeIfPresent(String.self, forKey: .message)
        }
    }

    /// The reply in `bytes`, or nil if they are not a JSON object.
    static func decode(_ bytes: ByteBuffer) -> EngineReply? {
        try? decoder.decode(EngineReply.self, from: bytes)
    }

    static func decode(_ text: String) -> EngineReply? {
        try? decoder.decode(EngineReply.self, from: Data(text.utf8))
    }

    private static let decoder = JSONDecoder()

    /// Generated text across choices, in UTF-8 bytes (for estimates).
    var textBytes: Int { choices.reduce(0) { $0 + ($1.text?.utf8.count ?? 0) } }
}

extension KeyedDecodingContainer {
    /// A whole number (`16`, or `16.0`), not a boolean, a string or a fraction; nil otherwise.
    func wholeNumber(_ key: Key) -> Int64? {
        if let value = try? decodeIfPresent(Int64.self, forKey: key) { return value }
        guard let double = try? decodeIfPresent(Double.self, forKey: key), double.rounded() == double, abs(double) < 9e15 else {
            return nil
        }
        return Int64(double)
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
        guard let reply = EngineReply.decode(payload) else { return true }
        if reply.isError {
            sawError = true
            return true
        }
        if let reported = TokenUsage.reported(in: reply) {
            usage = reported
            // The usage chunk proper (no choices) is the one a client must have asked for.
            if reply.choices.isEmpty { return clientWantsUsage }
        }
        for choice in reply.choices {
            let text = choice.text ?? ""
            if !text.isEmpty || choice.hasToolCalls {
                contentChunks += 1
                contentCharacters += text.utf8.count
            }
            if let reason = choice.finishReason { finishReason = reason }
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
