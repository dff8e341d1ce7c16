import AirlockCore
import Synchronization

/// Where a registered node stands right now (seed 004 §§ 21–22). Derived, never stored: see
/// `NodeRegistry.derive` for the one rule that computes it.
public enum NodeLiveState: UInt8, Sendable, CustomStringConvertible, Codable {
    /// Connected, engine not ready yet (starting, restarting, failed).
    case joining
    /// Takes new work.
    case active
    /// Finishes what it has, takes nothing new: an operator's drain, the agent's maintenance
    /// warning or shutdown, or a health rule.
    case draining
    /// No heartbeat for the timeout (15 s): gets nothing.
    case dead

    public var description: String {
        switch self {
        case .joining: "joining"
        case .active: "active"
        case .draining: "draining"
        case .dead: "dead"
        }
    }
}

/// What a node says about itself when it registers (and the registry's identity for it).
public struct NodeProfile: Sendable, Equatable {
    public var id: String
    public var name: String
    /// Set for org-owned nodes (seed 004 § 44.1): they serve only this org.
    public var orgID: OrgID?
    public var zone: String
    /// Base URL without `/v1`.
    public var engineURL: String
    public var models: [String]
    public var capacityTokensPerSecond: Double
    public var hardware: String

    public init(id: String, name: String, orgID: OrgID?, zone: String, engineURL: String, models: [String],
                capacityTokensPerSecond: Double, hardware: String = "") {
        self.id = id
        self.name = name
        self.orgID = orgID
        self.zone = zone
        self.engineURL = engineURL
        self.models = models
        self.capacityTokensPerSecond = max(1, capacityTokensPerSecond)
        self.hardware = hardware
    }
}

/// Why a node is draining. A node drains while any reason holds; each is lifted by its own
/// source (an operator's resume does not lift a health rule, and a cooled GPU does not undo an
/// operator's drain).
public struct DrainReasons: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `airlock node drain` (persisted in the node row).
    public static let operatorRequest = DrainReasons(rawValue: 1)
    /// The agent's maintenance warning or SIGTERM.
    public static let agent = DrainReasons(rawValue: 2)
    /// A health rule (temperature, OOM spike, latency): lifted when the next metrics are healthy.
    public static let health = DrainReasons(rawValue: 4)
}

/// One node as the scheduler sees it. The hot fields are atomics so that a pick over 1,000 nodes
/// takes no lock per node; the figures of one heartbeat may be read half-updated by a concurrent
/// pick, which costs at most one slightly stale load score.
public final class LiveNode: Sendable {
    public let id: String
    public let name: String
    public let orgID: OrgID?
    private let details: Mutex<Details>
    private let stateRaw = Atomic<UInt8>(NodeLiveState.joining.rawValue)
    private let inFlight = Atomic<Int>(0)
    private let capacityBits: Atomic<UInt64>
    /// Tokens/s one request adds, learnt from heartbeats (engine tok/s ÷ engine requests).
    private let perRequestBits: Atomic<UInt64>
    /// The load score as `base + inFlight × step`, refreshed at each heartbeat and profile change
    /// so that a pick reads three atomics per node: `base` is the reported tok/s minus what the
    /// requests in flight at that moment account for, both divided by capacity.
    private let baseBits = Atomic<UInt64>(0)
    private let stepBits: Atomic<UInt64>

    struct Details {
        var profile: NodeProfile
        var drainReasons: DrainReasons = []
        var engineReady = false
        var lastHeartbeat: Int64
        var healthNote: String?
        var latencyBaselineMillis: Double?
        var lastMetrics: NodeMetrics?
    }

    init(profile: NodeProfile, now: Int64, nominalConcurrency: Int) {
        id = profile.id
        name = profile.name
        orgID = profile.orgID
        details = Mutex(Details(profile: profile, lastHeartbeat: now))
        capacityBits = Atomic(profile.capacityTokensPerSecond.bitPattern)
        perRequestBits = Atomic((profile.capacityTokensPerSecond / Double(nominalConcurrency)).bitPattern)
        stepBits = Atomic((1 / Double(nominalConcurrency)).bitPattern)
    }

    public var state: NodeLiveState { NodeLiveState(rawValue: stateRaw.load(ordering: .relaxed)) ?? .dead }
    var isActive: Bool { stateRaw.load(ordering: .relaxed) == NodeLiveState.active.rawValue }
    public var profile: NodeProfile { details.withLock { $0.profile } }
    public var engineURL: String { details.withLock { $0.profile.engineURL } }
    public var zone: String { details.withLock { $0.profile.zone } }
    public var requestsInFlight: Int { inFlight.load(ordering: .relaxed) }

    /// A request was sent here; it counts towards the load at once, until `finished()`.
    public func started() { inFlight.add(1, ordering: .relaxed) }
    public func finished() { inFlight.subtract(1, ordering: .relaxed) }

    /// Estimated current tokens/s ÷ capacity (seed 004 § 26.3). The engine's tok/s is five
    /// seconds old at worst; requests sent or finished since then move it by the learnt
    /// tokens/s per request, so a burst spreads at once instead of piling onto one node until the
    /// next heartbeat.
    public var load: Double {
        let base = Double(bitPattern: baseBits.load(ordering: .relaxed))
        let step = Double(bitPattern: stepBits.load(ordering: .relaxed))
        return max(0, base + Double(inFlight.load(ordering: .relaxed)) * step)
    }

    func store(_ state: NodeLiveState) { stateRaw.store(state.rawValue, ordering: .relaxed) }

    func withDetails<T>(_ body: (inout Details) -> T) -> T { details.withLock { body(&$0) } }

    func replace(profile: NodeProfile) {
        details.withLock { $0.profile = profile }
        capacityBits.store(profile.capacityTokensPerSecond.bitPattern, ordering: .relaxed)
        refresh(reported: nil)
    }

    /// A heartbeat's engine figures. With no request in the engine the per-request rate keeps its
    /// last learnt value.
    func report(tokensPerSecond: Double, engineRequests: Int) {
        if engineRequests > 0, tokensPerSecond > 0 {
            perRequestBits.store((tokensPerSecond / Double(engineRequests)).bitPattern, ordering: .relaxed)
        }
        refresh(reported: max(0, tokensPerSecond))
    }

    private let reportedBits = Atomic<UInt64>(0)
    private let inFlightAtReport = Atomic<Int>(0)

    private func refresh(reported: Double?) {
        if let reported {
            reportedBits.store(reported.bitPattern, ordering: .relaxed)
            inFlightAtReport.store(inFlight.load(ordering: .relaxed), ordering: .relaxed)
        }
        let capacity = Double(bitPattern: capacityBits.load(ordering: .relaxed))
        let perRequest = Double(bitPattern: perRequestBits.load(ordering: .relaxed))
        let reportedNow = Double(bitPattern: reportedBits.load(ordering: .relaxed))
        let atReport = Double(inFlightAtReport.load(ordering: .relaxed))
        baseBits.store(((reportedNow - atReport * perRequest) / capacity).bitPattern, ordering: .relaxed)
        stepBits.store((perRequest / capacity).bitPattern, ordering: .relaxed)
    }
}
