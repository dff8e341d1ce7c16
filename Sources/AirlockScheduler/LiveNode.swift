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
    /// GPUs the agent reported (0 for an engine without GPUs, or a development engine): what
    /// the licence's GPU count is charged with.
    public var gpuCount: Int

    public init(id: String, name: String, orgID: OrgID?, zone: String, engineURL: String, models: [String],
                capacityTokensPerSecond: Double, hardware: String = "", gpuCount: Int = 0) {
        self.id = id
        self.name = name
        self.orgID = orgID
        self.zone = zone
        self.engineURL = engineURL
        self.models = models
        self.capacityTokensPerSecond = max(1, capacityTokensPerSecond)
        self.gpuCount = max(0, gpuCount)
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
    /// Beyond the licence's node or GPU count: registered, reporting, not scheduled.
    public static let license = DrainReasons(rawValue: 8)
}

/// One node as the scheduler sees it. What a pick reads — state, in-flight count and the two
/// terms of the load score — are atomics, so that a pick over 1,000 nodes takes no lock per node;
/// everything else sits behind the node's lock and changes at heartbeats. A pick concurrent with
/// a heartbeat may read one term old and one new: one slightly stale load score.
public final class LiveNode: Sendable {
    public let id: String
    public let name: String
    public let orgID: OrgID?
    private let details: Mutex<Details>
    private let stateRaw = Atomic<UInt8>(NodeLiveState.joining.rawValue)
    private let inFlight = Atomic<Int>(0)
    /// load = base + inFlight × step (see `Details.loadTerms`).
    private let baseBits = Atomic<UInt64>(0)
    private let stepBits = Atomic<UInt64>(0)

    struct Details {
        var profile: NodeProfile
        var drainReasons: DrainReasons = []
        var engineReady = false
        var lastHeartbeat: Int64
        /// False once the agent's stream ended: a node nobody can command or hear is dead at
        /// once, not 15 s later. Registering again sets it.
        var connected = true
        var healthNote: String?
        /// The last metrics report, for what operators see.
        var lastMetrics: NodeMetrics?
        var latencyBaselineMillis: Double?
        /// Tokens/s one request adds, learnt from heartbeats (engine tok/s ÷ engine requests).
        var perRequest: Double
        /// The engine's tok/s at the last heartbeat, and our in-flight count at that moment.
        var reported = 0.0
        var inFlightAtReport = 0

        /// The load score's terms: the reported tok/s less what the requests in flight at that
        /// moment account for, and what each request adds — both as fractions of capacity.
        var loadTerms: (base: Double, step: Double) {
            let capacity = profile.capacityTokensPerSecond
            return ((reported - Double(inFlightAtReport) * perRequest) / capacity, perRequest / capacity)
        }
    }

    /// When the registry first saw this node: the licence admits nodes in this order.
    let registeredAt: Int64

    init(profile: NodeProfile, now: Int64, nominalConcurrency: Int) {
        registeredAt = now
        id = profile.id
        name = profile.name
        orgID = profile.orgID
        let details = Details(profile: profile, lastHeartbeat: now,
                              perRequest: profile.capacityTokensPerSecond / Double(nominalConcurrency))
        self.details = Mutex(details)
        publish(details.loadTerms)
    }

    public var state: NodeLiveState { NodeLiveState(rawValue: stateRaw.load(ordering: .relaxed)) ?? .dead }
    var isActive: Bool { stateRaw.load(ordering: .relaxed) == NodeLiveState.active.rawValue }
    public var profile: NodeProfile { details.withLock { $0.profile } }
    public var engineURL: String { details.withLock { $0.profile.engineURL } }
    public var zone: String { details.withLock { $0.profile.zone } }
    public var drainReasons: DrainReasons { details.withLock { $0.drainReasons } }
    public var requestsInFlight: Int { inFlight.load(ordering: .relaxed) }
    /// The engine's tokens/s at its last heartbeat (0 before the first), for `/metrics`.
    public var engineTokensPerSecond: Double { details.withLock { $0.reported } }

    /// A request was sent here; it counts towards the load at once, until `finished()`.
    public func started() { inFlight.add(1, ordering: .relaxed) }

    /// `started()`, unless `limit` requests are already in flight here: then nothing changes and
    /// the answer is false. One compare-and-exchange, so concurrent callers never take the count
    /// past `limit`.
    public func tryStart(limit: Int) -> Bool {
        var current = inFlight.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, found) = inFlight.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = found
        }
        return false
    }
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
        details.withLock { details in
            details.profile = profile
            publish(details.loadTerms)
        }
    }

    /// A heartbeat's engine figures. With no request in the engine the per-request rate keeps its
    /// last learnt value.
    func report(tokensPerSecond: Double, engineRequests: Int) {
        let inFlightNow = inFlight.load(ordering: .relaxed)
        details.withLock { details in
            if engineRequests > 0, tokensPerSecond > 0 { details.perRequest = tokensPerSecond / Double(engineRequests) }
            details.reported = max(0, tokensPerSecond)
            details.inFlightAtReport = inFlightNow
            publish(details.loadTerms)
        }
    }

    /// Stored under the node's lock, so two updates cannot publish out of order.
    private func publish(_ terms: (base: Double, step: Double)) {
        baseBits.store(terms.base.bitPattern, ordering: .relaxed)
        stepBits.store(terms.step.bitPattern, ordering: .relaxed)
    }
}
