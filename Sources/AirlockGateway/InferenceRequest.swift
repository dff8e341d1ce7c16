import Foundation
import NIOCore

/// The three inference endpoints Airlock proxies.
public enum InferenceKind: String, Sendable, CaseIterable {
    case chat = "/v1/chat/completions"
    case completion = "/v1/completions"
    case embedding = "/v1/embeddings"
}

/// A validated inference request: what admission and accounting need, and the body to send
/// upstream. Validation is strict about the fields Airlock relies on (seed 004 § 18) and passes
/// every other field through, so engine features keep working.
struct InferenceRequest: Sendable {
    var kind: InferenceKind
    var model: String
    var stream: Bool
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    var clientWantsUsage: Bool
    /// Completion tokens the request may generate in all (max_tokens × n); 0 for embeddings.
    var maxTokens: Int64
    /// Airlock's estimate of the prompt, charged at admission and used if the engine is silent.
    var promptTokenEstimate: Int64
    var upstreamBody: ByteBuffer
    /// Hash of the prompt's shared prefix (a chat's leading system/developer messages, or a
    /// completion prompt's first 1 KiB), for the scheduler's prefix affinity; nil if there is none.
    var prefix: Int?

    static let maxMessages = 10_000
    static let maxInputs = 2_048

    /// - Parameter defaultMaxTokens: sent upstream when the client sets none, so every request
    ///   has a bounded cost (the per-request cap).
    static func parse(_ kind: InferenceKind, body: ByteBuffer, defaultMaxTokens: Int) throws(OpenAIError) -> InferenceRequest {
        guard body.readableBytes > 0,
              let parsed = body.withUnsafeReadableBytes({ try? JSONSerialization.jsonObject(with: Data($0)) }),
              var object = parsed as? [String: Any]
        else {
            throw .invalidRequest("We could not parse the JSON body of your request. Send a JSON object.")
        }
        let model = try modelName(object["model"])
        let stream = try optionalBool(object, "stream") ?? false
        var clientWantsUsage = false
        if !JSONValues.isNull(object["stream_options"]) {
            guard stream else { throw .invalidRequest("'stream_options' is only allowed when 'stream' is true.", param: "stream_options") }
            guard let options = object["stream_options"] as? [String: Any] else {
                throw .invalidRequest("'stream_options' must be an object.", param: "stream_options")
            }
            clientWantsUsage = try optionalBool(options, "include_usage", param: "stream_options.include_usage") ?? false
        }
        let choices = try optionalInteger(object, "n", in: 1...16) ?? 1
        for name in ["temperature", "top_p", "presence_penalty", "frequency_penalty"] { try optionalNumber(object, name) }

        var maxTokens: Int64 = 0
        var modified = stream
        let promptChars: Int
        var templateTokens: Int64 = 0
        switch kind {
        case .chat:
            promptChars = try messagesLength(object["messages"])
            templateTokens = TokenEstimate.replyPrimer
        case .completion:
            promptChars = try inputLength(object["prompt"], param: "prompt", limit: maxInputs)
        case .embedding:
            guard !stream else { throw .invalidRequest("Embeddings cannot be streamed.", param: "stream") }
            promptChars = try inputLength(object["input"], param: "input", limit: maxInputs)
        }
        if kind != .embedding {
            var asked = try optionalInteger(object, "max_completion_tokens", in: 1...Int64(Int32.max))
            if asked == nil { asked = try optionalInteger(object, "max_tokens", in: 1...Int64(Int32.max)) }
            if asked == nil {
                object["max_tokens"] = defaultMaxTokens
                modified = true
            }
            maxTokens = (asked ?? Int64(defaultMaxTokens)) * choices
        }
        var upstream: ByteBuffer = body
        if stream {
            // Ask the engine for the usage chunk whatever the client asked; it is removed from the
            // client's stream again unless the client asked too (seed 004 § 32).
            var options = object["stream_options"] as? [String: Any] ?? [:]
            options["include_usage"] = true
            object["stream_options"] = options
        }
        if modified {
            guard let data = try? JSONSerialization.data(withJSONObject: object) else { throw .invalidRequest("The request body could not be re-encoded.") }
            upstream = ByteBuffer(bytes: data)
        }
        return InferenceRequest(kind: kind, model: model, stream: stream, clientWantsUsage: clientWantsUsage,
                                maxTokens: maxTokens, promptTokenEstimate: TokenEstimate.tokens(forCharacters: promptChars) + templateTokens,
                                upstreamBody: upstream, prefix: prefixHash(kind, object))
    }

    private static func modelName(_ value: Any?) throws(OpenAIError) -> String {
        guard !JSONValues.isNull(value) else { throw .invalidRequest("You must provide a model parameter.", param: "model") }
        guard let model = value as? String, !model.isEmpty, model.utf8.count <= 256,
              !model.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw .invalidRequest("'model' must be a non-empty string of at most 256 bytes.", param: "model") }
        return model
    }

    private static func optionalBool(_ object: [String: Any], _ name: String, param: String? = nil) throws(OpenAIError) -> Bool? {
        guard let value = object[name], !JSONValues.isNull(value) else { return nil }
        guard let flag = JSONValues.bool(value) else { throw .invalidRequest("'\(param ?? name)' must be true or false.", param: param ?? name) }
        return flag
    }

    private static func optionalInteger(_ object: [String: Any], _ name: String, in range: ClosedRange<Int64>) throws(OpenAIError) -> Int64? {
        guard let value = object[name], !JSONValues.isNull(value) else { return nil }
        guard let number = JSONValues.integer(value), range.contains(number) else {
            throw .invalidRequest("'\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound).", param: name)
        }
        return number
    }

    private static func optionalNumber(_ object: [String: Any], _ name: String) throws(OpenAIError) {
        guard let value = object[name], !JSONValues.isNull(value) else { return }
        guard JSONValues.number(value) != nil else { throw .invalidRequest("'\(name)' must be a number.", param: name) }
    }

    /// What requests sharing an engine's prefix cache have in common: the leading system or
    /// developer messages of a chat, or the first 1 KiB of a completion prompt. Only routing uses
    /// it, so it is Swift's per-process `Hasher`, not a stable digest.
    private static func prefixHash(_ kind: InferenceKind, _ object: [String: Any]) -> Int? {
        var hasher = Hasher()
        switch kind {
        case .chat:
            guard let messages = object["messages"] as? [[String: Any]] else { return nil }
            var found = false
            for message in messages {
                guard let role = message["role"] as? String, role == "system" || role == "developer" else { break }
                guard let text = message["content"] as? String else { break }
                hasher.combine(text)
                found = true
            }
            guard found else { return nil }
        case .completion:
            guard let prompt = object["prompt"] as? String, prompt.utf8.count >= 64 else { return nil }
            Array(prompt.utf8.prefix(1_024)).withUnsafeBytes { hasher.combine(bytes: $0) }
        case .embedding:
            return nil
        }
        return hasher.finalize()
    }

    private static let roles: Set<String> = ["system", "developer", "user", "assistant", "tool", "function"]

    /// Characters of text in a chat's messages; refuses a malformed list.
    private static func messagesLength(_ value: Any?) throws(OpenAIError) -> Int {
        guard let messages = value as? [Any], !messages.isEmpty, messages.count <= maxMessages else {
            throw .invalidRequest("'messages' must be a non-empty array of at most \(maxMessages) messages.", param: "messages")
        }
        var characters = 0
        for (index, element) in messages.enumerated() {
            let param = "messages[\(index)]"
            guard let message = element as? [String: Any] else { throw .invalidRequest("'\(param)' must be an object.", param: param) }
            guard let role = message["role"] as? String, roles.contains(role) else {
                throw .invalidRequest("'\(param).role' must be one of \(roles.sorted().joined(separator: ", ")).", param: "\(param).role")
            }
            switch message["content"] {
            case let text as String: characters += text.utf8.count
            case let parts as [Any]:
                for part in parts {
                    guard let part = part as? [String: Any], part["type"] is String else {
                        throw .invalidRequest("'\(param).content' parts must be objects with a 'type'.", param: "\(param).content")
                    }
                    characters += (part["text"] as? String)?.utf8.count ?? 256
                }
            case nil, is NSNull:
                guard role == "assistant" else { throw .invalidRequest("'\(param).content' is required.", param: "\(param).content") }
            default:
                throw .invalidRequest("'\(param).content' must be a string or an array of parts.", param: "\(param).content")
            }
            characters += 16  // role and framing tokens
        }
        return characters
    }

    /// Characters (or token ids × 4) in a prompt / input: a string, or an array of strings, of
    /// token ids, or of token-id arrays.
    private static func inputLength(_ value: Any?, param: String, limit: Int) throws(OpenAIError) -> Int {
        let refusal = OpenAIError.invalidRequest(
            "'\(param)' must be a non-empty string, array of strings, or array of token ids (at most \(limit) entries).", param: param)
        if let text = value as? String {
            guard !text.isEmpty else { throw refusal }
            return text.utf8.count
        }
        guard let items = value as? [Any], !items.isEmpty, items.count <= limit else { throw refusal }
        var characters = 0
        for item in items {
            if let text = item as? String {
                characters += text.utf8.count
            } else if JSONValues.integer(item) != nil {
                characters += 4
            } else if let ids = item as? [Any], !ids.isEmpty, ids.allSatisfy({ JSONValues.integer($0) != nil }) {
                characters += 4 * ids.count
            } else {
                throw refusal
            }
        }
        return characters
    }
}

/// Airlock's token estimate where no engine count exists: ~4 bytes of text per token, the usual
/// figure for English with BPE tokenizers. Used only for admission and when an engine reports no
/// usage (those ledger rows are marked `estimated`).
enum TokenEstimate {
    static func tokens(forCharacters characters: Int) -> Int64 {
        Int64((characters + 3) / 4)
    }

    /// Chat templates open the assistant's reply with a few tokens of their own (3 in ChatML
    /// and OpenAI's formats), on top of each message's role framing (`messagesLength`). Engines
    /// that inject a default system prompt (SmolLM2 through llama.cpp: 37 counted against 16
    /// estimated, scripts/e2e-real-engine) still count more: such rows are marked `estimated`.
    static let replyPrimer: Int64 = 3
}
