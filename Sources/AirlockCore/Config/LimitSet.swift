/// One layer's traffic limits (seed 004 § 14–16). `nil` means "no limit at this layer".
///
/// Issue B enforces them; the config only supplies the defaults every org, env and key starts
/// with until an admin overrides them.
public struct LimitSet: Equatable, Sendable, Codable {
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    public var tokensPerSecond: Int?
    public var concurrency: Int?
    public var tokensPerDay: Int?

    public init(
        requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, tokensPerSecond: Int? = nil,
        concurrency: Int? = nil, tokensPerDay: Int? = nil
    ) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.tokensPerSecond = tokensPerSecond
        self.concurrency = concurrency
        self.tokensPerDay = tokensPerDay
    }

    public static let unlimited = LimitSet()

    static func read(_ section: inout TOMLSection) throws -> LimitSet {
        let big = 1...1_000_000_000_000
        let limits = LimitSet(
            requestsPerMinute: try section.int("requests_per_minute", in: big),
            tokensPerMinute: try section.int("tokens_per_minute", in: big),
            tokensPerSecond: try section.int("tokens_per_second", in: big),
            concurrency: try section.int("concurrency", in: 1...1_000_000),
            tokensPerDay: try section.int("tokens_per_day", in: big)
        )
        try section.finish()
        return limits
    }
}
