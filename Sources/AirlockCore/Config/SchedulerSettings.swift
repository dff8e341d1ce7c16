/// How placement behaves (seed 004 §§ 26–28): `[scheduler]` in airlock.toml for the fields an
/// operator sets; the others are fixed by the seed and settable only in code (tests, benches).
public struct SchedulerSettings: Equatable, Sendable {
    /// Nodes tried for one request before giving up (seed 004 § 26.4: max 3).
    public var maxAttempts = 3
    /// Zones tried, in order, after the request's own zone has no node left (seed § 27.3).
    public var fallbackZones: [String] = []
    /// A request goes to the node that recently served its prompt prefix unless that node's load
    /// is more than this above the least loaded candidate's (load = tok/s ÷ capacity, so 0.25 is
    /// a quarter of a node's capacity).
    public var affinityMargin = 0.25
    /// How long a prefix remembers its node, and how many prefixes are remembered.
    public var affinityTTLMillis: Int64 = 300_000
    public var affinityEntries = 16_384
    /// Serverless requests are shed (429) when the best node's load is at or above this; requests
    /// inside an org's reserved capacity never are (seed § 28). Nil: never shed.
    public var shedLoad: Double?
    /// Requests in flight at which a node is planned after every node with room: the gateway's
    /// `max_connections_per_engine`, which `LiveNode.tryStart` enforces when the request is sent.
    /// Without this a node that reports a high load from other traffic could be left out of a
    /// plan whose nodes are all full, and the request refused while it had room.
    public var connectionCap = Int.max

    public init() {}

    mutating func read(_ section: inout TOMLSection) throws {
        fallbackZones = try section.strings("fallback_zones") ?? []
        for zone in fallbackZones where !EngineConfig.isName(zone) {
            throw section.error("fallback_zones", "'\(zone)' is not a zone name (1-64 letters, digits, '-', '_' or '.')")
        }
        if let twice = fallbackZones.enumerated().first(where: { fallbackZones.firstIndex(of: $1) != $0 }) {
            throw section.error("fallback_zones", "'\(twice.element)' is listed twice")
        }
        affinityMargin = try section.double("affinity_margin", in: 0...10) ?? affinityMargin
        shedLoad = try section.double("shed_load", in: 0.01...100)
        try section.finish()
    }
}
