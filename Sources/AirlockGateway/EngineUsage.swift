import NIOCore

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
/// reason and generated text, and whether it is an error (with its message). Read leniently — a
/// field of an unexpected shape reads as absent — with `JSONReader`, which skips the rest of the
/// document without building it (an embeddings reply is mostly numbers Airlock never looks at).
/// A document that is not JSON, or not an object, is no reply at all.
struct EngineReply {
    struct Usage {
        var promptTokens: Int64?
        var completionTokens: Int64?
    }

    struct Choice {
        var finishReason: String?
        /// `message.content` (chat), `delta.content` (chat stream) or `text` (completions).
        var text: String?
        var hasToolCalls = false
    }

    var usage: Usage?
    var choices: [Choice] = []
    /// The reply has an `error` member (whatever its value), or is vLLM's older error shape,
    /// `{"object":"error","message":…}` (its non-streamed errors before the OpenAI shape).
    var isError = false
    /// `error.message`, or the older shape's `message`, when the reply is an error that has one.
    var errorMessage: String?

    /// The reply in `bytes`, or nil if they are not a JSON object.
    static func decode(_ bytes: ByteBuffer) -> EngineReply? {
        bytes.withUnsafeReadableBytes { try? read($0) }
    }

    private static func read(_ bytes: UnsafeRawBufferPointer) throws -> EngineReply? {
        try JSONReader.read(bytes) { json in
            var reply = EngineReply()
            var objectIsError = false
            var topMessage: String?
            let isObject = try json.readObjectOrSkip { json, key in
                if key == "usage" {
                    reply.usage = try Usage.read(&json)
                } else if key == "choices" {
                    reply.choices = try Choice.readAll(&json)
                } else if key == "error" {
                    reply.isError = true
                    reply.errorMessage = try readErrorMessage(&json)
                } else if key == "object" {
                    objectIsError = try json.readString() == "error"
                } else if key == "message" {
                    topMessage = try json.readString()
                } else {
                    try json.skipValue()
                }
            }
            if objectIsError {
                reply.isError = true
                reply.errorMessage = reply.errorMessage ?? topMessage
            }
            return isObject ? reply : nil
        }
    }

    private static func readErrorMessage(_ json: inout JSONReader) throws -> String? {
        var message: String?
        _ = try json.readObjectOrSkip { json, key in
            if key == "message" { message = try json.readString() } else { try json.skipValue() }
        }
        return message
    }

    /// Generated text across choices, in UTF-8 bytes (for estimates).
    var textBytes: Int { choices.reduce(0) { $0 + ($1.text?.utf8.count ?? 0) } }
}

extension EngineReply.Usage {
    /// The usage object next in `json`, or nil if it is not an object.
    static func read(_ json: inout JSONReader) throws -> Self? {
        var usage = Self()
        let isObject = try json.readObjectOrSkip { json, key in
            if key == "prompt_tokens" {
                usage.promptTokens = try json.readWholeNumber()
            } else if key == "completion_tokens" {
                usage.completionTokens = try json.readWholeNumber()
            } else {
                try json.skipValue()
            }
        }
        return isObject ? usage : nil
    }
}

extension EngineReply.Choice {
    /// The `choices` array next in `json`; empty if it is not an array of objects.
    static func readAll(_ json: inout JSONReader) throws -> [Self] {
        guard try json.kind() == .array else {
            try json.skipValue()
            return []
        }
        var choices: [Self] = []
        var allObjects = true
        try json.readArray { json in
            guard try json.kind() == .object else {
                allObjects = false
                return try json.skipValue()
            }
            choices.append(try read(&json))
        }
        return allObjects ? choices : []
    }

    /// One choice object. The text is the message's content, else the delta's, else `text`.
    private static func read(_ json: inout JSONReader) throws -> Self {
        var choice = Self()
        var messageText: String?, deltaText: String?, plainText: String?
        try json.readObject { json, key in
            if key == "finish_reason" {
                choice.finishReason = try json.readString()
            } else if key == "message" {
                messageText = try readMessage(&json, toolCalls: &choice.hasToolCalls)
            } else if key == "delta" {
                deltaText = try readMessage(&json, toolCalls: &choice.hasToolCalls)
            } else if key == "text" {
                plainText = try json.readString()
            } else {
                try json.skipValue()
            }
        }
        choice.text = messageText ?? deltaText ?? plainText
        return choice
    }

    /// A `message` or `delta` object's string `content`; notes a `tool_calls` that is not null.
    private static func readMessage(_ json: inout JSONReader, toolCalls: inout Bool) throws -> String? {
        var content: String?
        _ = try json.readObjectOrSkip { json, key in
            if key == "content" {
                content = try json.readString()
            } else if key == "tool_calls" {
                if try !json.skipNull() {
                    toolCalls = true
                    try json.skipValue()
                }
            } else {
                try json.skipValue()
            }
        }
        return content
    }
}

/// Follows a streamed response event by event: keeps the engine's usage chunk (and strips it
/// from the client's stream unless the client asked for it), counts what was generated so an
/// interrupted stream can still be billed, and notes the finish reason and any error event.
struct StreamAccounting {
    let clientWantsUsage: Bool
    /// The answering engine's own names, hidden in an error event's message: worked out only
    /// when an engine sends one, not for every stream.
    private let engineNames: () -> Set<String>
    private(set) var usage: TokenUsage?
    private(set) var contentChunks: Int64 = 0
    private(set) var contentCharacters = 0
    private(set) var finishReason: String?
    private(set) var sawDone = false
    private(set) var sawError = false

    init(clientWantsUsage: Bool, engineNames: @autoclosure @escaping () -> Set<String> = []) {
        self.clientWantsUsage = clientWantsUsage
        self.engineNames = engineNames
    }

    /// What the relay does with an event.
    enum Forward: Equatable {
        case pass, drop
        /// Send this event instead (an engine's error, its message scrubbed).
        case replace(ByteBuffer)
    }

    /// Records `payload` (an event's data) and says what becomes of the event.
    mutating func observe(_ payload: ByteBuffer?) -> Forward {
        guard let payload else { return .pass }
        if payload.readableBytesView.elementsEqual("[DONE]".utf8) {
            sawDone = true
            return .pass
        }
        guard let reply = EngineReply.decode(payload) else { return .pass }
        if reply.isError {
            sawError = true
            // The client gets the engine's reason, never its paths or addresses.
            return .replace(ServerSentEvent.event(data: OpenAIError.engineFailedMidStream(reply.errorMessage, hiding: engineNames()).body))
        }
        if let reported = TokenUsage.reported(in: reply) {
            usage = reported
            // The usage chunk proper (no choices) is the one a client must have asked for.
            if reply.choices.isEmpty { return clientWantsUsage ? .pass : .drop }
        }
        for choice in reply.choices {
            let text = choice.text ?? ""
            if !text.isEmpty || choice.hasToolCalls {
                contentChunks += 1
                contentCharacters += text.utf8.count
            }
            if let reason = choice.finishReason { finishReason = reason }
        }
        return .pass
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
