/// How the simulated engine behaves. Per-request directives in the prompt (see
/// ``SimulatorDirectives``) override these for one request, so a single engine serves every test.
public struct SimulatorSettings: Sendable {
    /// Models this engine serves (`GET /v1/models`); any other model gets 404.
    public var models: [String]
    /// Generated tokens per second; 0 generates instantly.
    public var tokensPerSecond: Double
    /// Delay before the first token (streaming) or the response (non-streaming).
    public var timeToFirstTokenMillis: Int
    /// Fraction of requests answered with 500 before any byte, 0...1.
    public var failureRate: Double
    /// Close the connection abruptly after this many streamed tokens (engine death mid-stream).
    public var dieAfterTokens: Int?
    /// Whether `usage` is reported at all (vLLM always does; some engines do not).
    public var reportsUsage: Bool
    /// Completion length when the request sets no `max_tokens`.
    public var defaultMaxTokens: Int
    /// Dimensions of the vectors `/v1/embeddings` returns.
    public var embeddingDimensions: Int

    public init(
        models: [String] = ["sim-small"], tokensPerSecond: Double = 200, timeToFirstTokenMillis: Int = 0,
        failureRate: Double = 0, dieAfterTokens: Int? = nil, reportsUsage: Bool = true,
        defaultMaxTokens: Int = 16, embeddingDimensions: Int = 8
    ) {
        self.models = models
        self.tokensPerSecond = tokensPerSecond
        self.timeToFirstTokenMillis = timeToFirstTokenMillis
        self.failureRate = failureRate
        self.dieAfterTokens = dieAfterTokens
        self.reportsUsage = reportsUsage
        self.defaultMaxTokens = defaultMaxTokens
        self.embeddingDimensions = embeddingDimensions
    }
}

/// Per-request overrides read from the prompt text, e.g. `[sim:die-after=3]`:
/// `[sim:fail]` (500 before any byte), `[sim:die-after=N]`, `[sim:no-usage]`, `[sim:tps=N]`,
/// `[sim:ttft=MS]`, `[sim:status=CODE]` (that HTTP error, OpenAI-shaped).
struct SimulatorDirectives {
    var fail = false
    var dieAfterTokens: Int?
    var noUsage = false
    var tokensPerSecond: Double?
    var timeToFirstTokenMillis: Int?
    var status: Int?

    init(prompt: String) {
        var rest = prompt[...]
        while let open = rest.range(of: "[sim:") {
            guard let close = rest[open.upperBound...].firstIndex(of: "]") else { break }
            let directive = rest[open.upperBound..<close]
            let parts = directive.split(separator: "=", maxSplits: 1).map(String.init)
            let value = parts.count == 2 ? parts[1] : nil
            switch parts.first {
            case "fail": fail = true
            case "no-usage": noUsage = true
            case "die-after": dieAfterTokens = value.flatMap { Int($0) }
            case "tps": tokensPerSecond = value.flatMap { Double($0) }
            case "ttft": timeToFirstTokenMillis = value.flatMap { Int($0) }
            case "status": status = value.flatMap { Int($0) }
            default: break
            }
            rest = rest[rest.index(after: close)...]
        }
    }
}
