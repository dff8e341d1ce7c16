import AirlockCore
import Synchronization

/// What placement needs to know about a request.
public struct PlacementRequest: Sendable {
    public var model: String
    public var orgID: OrgID
    /// The zone the request belongs to (the appliance's home zone).
    public var zone: String
    /// Admitted inside the org's reserved capacity: never shed.
    public var reserved: Bool
    /// Hash of the prompt prefix (system prompt), for affinity; nil when the prompt has none.
    public var prefix: Int?

    public init(model: String, orgID: OrgID, zone: String, reserved: Bool, prefix: Int?) {
        self.model = model
        self.orgID = orgID
        self.zone = zone
        self.reserved = reserved
        self.prefix = prefix
    }
}

/// The nodes to try, best first, at most `maxAttempts`. Empty `nodes` with `overloaded` false:
/// nothing active serves the model here.
public struct PlacementPlan: Sendable {
    public var nodes: [LiveNode]
    public var overloaded = false
    /// The first node was chosen because it served this prefix recently.
    public var affinity = false
}

/// Seed 004 § 26: picks the nodes for a request. Candidates are active nodes serving the model
/// in the request's zone, the org's own nodes first (its lane), then the shared pool; then the
/// fallback zones in order. Within a lane the lowest load goes first, except that a recently
/// used prefix keeps its node while that node is within `affinityMargin` of the best.
public final class Scheduler: Sendable {
    public let registry: NodeRegistry
    public let settings: SchedulerSettings
    private let affinity: Mutex<AffinityTable>
    private let counters = AffinityCounters()
    /// Prefix routing is a licensed feature: off, requests are placed by load alone.
    private let prefixRouting = Atomic<Bool>(true)

    public func enablePrefixRouting(_ enabled: Bool) { prefixRouting.store(enabled, ordering: .relaxed) }

    public init(registry: NodeRegistry, settings: SchedulerSettings = SchedulerSettings(), clock: @escaping @Sendable () -> Int64) {
        self.registry = registry
        self.settings = settings
        affinity = Mutex(AffinityTable(capacity: settings.affinityEntries, ttl: settings.affinityTTLMillis, clock: clock))
    }

    /// Affinity lookups that found a remembered node, and that used it.
    public var affinityStats: (lookups: Int, remembered: Int, used: Int) { counters.read() }

    public func plan(_ request: PlacementRequest) -> PlacementPlan {
        let placement = registry.placement
        var plan = PlacementPlan(nodes: [])
        guard let zones = placement.pools[request.model] else { return plan }
        // Affinity is per org and model: one org's prompts never steer another org's placement.
        let key = request.prefix.flatMap { prefix -> Int? in
            guard prefixRouting.load(ordering: .relaxed) else { return nil }
            var hasher = Hasher()
            hasher.combine(prefix)
            hasher.combine(request.orgID.rawValue)
            hasher.combine(request.model)
            return hasher.finalize()
        }
        let remembered = key.flatMap { key in affinity.withLock { $0.node(for: key) } }
        counters.count(lookup: key != nil, remembered: remembered != nil)
        // The request's zone, then the fallback zones; within a zone the org's own lane, then
        // the shared one; until `maxAttempts` nodes are found. (No arrays built for the walk:
        // at 10 nodes they cost a fifth of the pick.)
        func visit(_ zone: String) {
            guard let lanes = zones[zone] else { return }
            if let own = lanes.owned[request.orgID] { add(own, to: &plan, remembered: remembered) }
            add(lanes.shared, to: &plan, remembered: remembered)
        }
        visit(request.zone)
        for zone in settings.fallbackZones where zone != request.zone { visit(zone) }
        guard let first = plan.nodes.first else { return plan }
        if let shed = settings.shedLoad, !request.reserved, first.load >= shed {
            return PlacementPlan(nodes: [], overloaded: true)
        }
        if plan.affinity { counters.used() }
        if let key { affinity.withLock { $0.remember(key, first) } }
        return plan
    }

    /// Appends `lane`'s best nodes to `plan`. The plan's first node may be the remembered one
    /// instead of the least loaded, if it is in this lane and within the affinity margin.
    private func add(_ lane: [LiveNode], to plan: inout PlacementPlan, remembered: LiveNode?) {
        let want = settings.maxAttempts - plan.nodes.count
        guard want > 0, !lane.isEmpty else { return }
        let cap = settings.connectionCap
        let (best, preferred) = Self.best(want, of: lane, remembered: plan.nodes.isEmpty ? remembered : nil, cap: cap)
        if let preferred, preferred.requestsInFlight < cap, let first = best.first,
           preferred.load <= first.load + settings.affinityMargin {
            plan.nodes = [preferred] + best.filter { $0 !== preferred }.prefix(want - 1)
            plan.affinity = true
        } else {
            plan.nodes += best
        }
    }

    /// The `count` least-loaded active nodes of `lane`, best first — a node with `cap` requests
    /// in flight counting as infinitely loaded —, and `remembered` if it is an active node of
    /// this lane. One pass, no sort; the pass holds indices rather than node
    /// references so that walking 1,000 nodes costs no reference counting (most of a pick's time
    /// before this was retain/release).
    static func best(_ count: Int, of lane: [LiveNode], remembered: LiveNode?, cap: Int = .max) -> ([LiveNode], LiveNode?) {
        var picked: [(index: Int, load: Double)] = []
        picked.reserveCapacity(count + 1)
        var preferred = -1
        let target = remembered.map { ObjectIdentifier($0) }
        lane.withUnsafeBufferPointer { nodes in
            var worst = Double.infinity
            for index in nodes.indices where nodes[index].isActive {
                if ObjectIdentifier(nodes[index]) == target { preferred = index }
                var load = nodes[index].load
                if picked.count == count, load >= worst { continue }
                // Only a node that would be picked is asked whether it is full: the common
                // case, a node loaded more than those already picked, costs nothing extra.
                if nodes[index].requestsInFlight >= cap {
                    load = .infinity
                    if picked.count == count { continue }
                }
                var slot = picked.count
                while slot > 0, picked[slot - 1].load > load { slot -= 1 }
                picked.insert((index, load), at: slot)
                if picked.count > count { picked.removeLast() }
                worst = picked.count == count ? picked[count - 1].load : .infinity
            }
        }
        return (picked.map { lane[$0.index] }, preferred < 0 ? nil : lane[preferred])
    }
}

/// Prefix → the node that served it last, bounded in size and age. Oldest entries go first when
/// full (insertion order; a hit refreshes the time, not the order — good enough for a cache
/// whose entries live minutes).
struct AffinityTable {
    private var entries: [Int: (node: LiveNode, at: Int64)] = [:]
    private var order: [Int] = []
    private var head = 0
    let capacity: Int
    let ttl: Int64
    let clock: @Sendable () -> Int64

    init(capacity: Int, ttl: Int64, clock: @escaping @Sendable () -> Int64) {
        self.capacity = max(1, capacity)
        self.ttl = ttl
        self.clock = clock
    }

    mutating func node(for prefix: Int) -> LiveNode? {
        guard let entry = entries[prefix] else { return nil }
        guard clock() - entry.at <= ttl else {
            entries[prefix] = nil
            return nil
        }
        return entry.node
    }

    mutating func remember(_ prefix: Int, _ node: LiveNode) {
        if entries.updateValue((node, clock()), forKey: prefix) != nil { return }
        if order.count < capacity {
            order.append(prefix)
            return
        }
        entries[order[head]] = nil
        order[head] = prefix
        head = (head + 1) % capacity
    }
}

final class AffinityCounters: Sendable {
    private let lookups = Atomic<Int>(0)
    private let remembered = Atomic<Int>(0)
    private let usedCount = Atomic<Int>(0)

    func count(lookup: Bool, remembered found: Bool) {
        if lookup { lookups.add(1, ordering: .relaxed) }
        if found { remembered.add(1, ordering: .relaxed) }
    }

    func used() { usedCount.add(1, ordering: .relaxed) }

    func read() -> (lookups: Int, remembered: Int, used: Int) {
        (lookups.load(ordering: .relaxed), remembered.load(ordering: .relaxed), usedCount.load(ordering: .relaxed))
    }
}
