import Foundation

/// The parts of an OpenAI request the simulator acts on. It is deliberately lenient about the
/// rest: validating clients is the gateway's job, and a real engine accepts many more fields.
struct SimulatedRequest {
    enum Kind: Sendable { case chat, completion, embedding }

    var kind: Kind
    var model: String
    var stream: Bool
    var includeUsage: Bool
    var maxTokens: Int?
    /// Every piece of prompt text, in order (embeddings: one per input).
    var texts: [String]
    /// The caller's `x-request-id` header. vLLM takes it as its own request id (its logs, and the
    /// answer's id: `chatcmpl-<id>` or `cmpl-<id>`); so does the simulator.
    var requestID: String?

    /// The answer's id, as vLLM makes it.
    var responseID: String {
        (kind == .chat ? "chatcmpl-" : "cmpl-") + (requestID ?? UUID().uuidString.lowercased())
    }

    init?(kind: Kind, body: Data) {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
              let model = object["model"] as? String
        else { return nil }
        self.kind = kind
        self.model = model
        stream = object["stream"] as? Bool ?? false
        includeUsage = (object["stream_options"] as? [String: Any])?["include_usage"] as? Bool ?? false
        maxTokens = object["max_completion_tokens"] as? Int ?? object["max_tokens"] as? Int
        switch kind {
        case .chat:
            let messages = object["messages"] as? [[String: Any]] ?? []
            texts = messages.map { message in
                if let text = message["content"] as? String { return text }
                let parts = message["content"] as? [[String: Any]] ?? []
                return parts.compactMap { $0["text"] as? String }.joined(separator: " ")
            }
        case .completion:
            texts = (object["prompt"] as? String).map { [$0] } ?? object["prompt"] as? [String] ?? []
        case .embedding:
            texts = (object["input"] as? String).map { [$0] } ?? object["input"] as? [String] ?? []
        }
    }

    var promptText: String { texts.joined(separator: "\n") }

    /// Whitespace-separated words, at least one per text: the simulator's tokenizer.
    static func tokenCount(_ text: String) -> Int {
        max(1, text.split(whereSeparator: { $0.isWhitespace }).count)
    }

    var promptTokens: Int { texts.reduce(0) { $0 + Self.tokenCount($1) } }
}

/// The deterministic text the simulator "generates": one word per token.
enum SimulatedText {
    private static let words = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "again"]

    static func token(_ index: Int) -> String { words[index % words.count] + " " }

    /// A deterministic unit-length vector derived from the text.
    static func embedding(of text: String, dimensions: Int) -> [Double] {
        var state = UInt64(truncatingIfNeeded: text.utf8.reduce(1469598103934665603) { ($0 ^ UInt64($1)) &* 1099511628211 })
        var vector = (0..<dimensions).map { _ -> Double in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(Int64(bitPattern: state >> 11) % 1_000) / 1_000
        }
        let norm = max(1e-9, sqrt(vector.reduce(0) { $0 + $1 * $1 }))
        vector = vector.map { $0 / norm }
        return vector
    }
}
