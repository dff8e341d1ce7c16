import AirlockCore
import AirlockScheduler
import ArgumentParser
import Foundation
import Synchronization

/// Scheduler pick latency at 10, 100 and 1,000 registered nodes, and how a synthetic workload
/// spreads: load balance (max ÷ min mean node load) and the prefix-cache hit rate with prefix
/// affinity off and on. In process and single-threaded: the pick is pure CPU over memory.
struct SchedulerBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scheduler", abstract: "Scheduler pick latency and load spread.")

    @Option(help: "Picks timed per pool size.") var picks = 200_000
    @Option(help: "Simulated 10 ms steps of the synthetic workload.") var steps = 20_000
    @Option(help: "Nodes in the synthetic workload.") var nodes = 50
    @Option(help: "Distinct system prompts in the synthetic workload.") var prompts = 200
    @Option(help: "System prompts one engine's prefix cache holds (least recently used goes).") var cacheSlots = 4

    func run() throws {
        print("scheduler pick latency (plan for one request; nodes all serve the model, random load)")
        print("nodes   mean µs   p99 µs")
        var means: [Int: Double] = [:]
        for count in [10, 100, 1_000] {
            let (mean, p99) = pickLatency(nodes: count)
            means[count] = mean
            print(String(format: "%5d   %7.3f   %6.3f", count, mean, p99))
        }
        print("")
        print("synthetic workload: \(nodes) nodes (capacity 500-2,000 tok/s, prefix cache of \(cacheSlots) prompts each), \(steps) steps of 10 ms, \(prompts) system prompts (Zipf), ~60% busy")
        print("affinity   requests   prefix hit rate   load spread (max/min mean load)   mean load")
        let off = simulate(affinity: false)
        let on = simulate(affinity: true)
        for (name, run) in [("off", off), ("on", on)] {
            print(String(format: "%-8@   %8d   %14.1f%%   %31.2f   %9.3f", name as NSString, run.requests, run.hitRate * 100, run.spread, run.meanLoad))
        }
        print("RESULT scheduler pick_us_10=\(String(format: "%.3f", means[10]!)) pick_us_100=\(String(format: "%.3f", means[100]!)) pick_us_1000=\(String(format: "%.3f", means[1_000]!)) spread=\(String(format: "%.2f", off.spread)) spread_affinity=\(String(format: "%.2f", on.spread)) hit_rate=\(String(format: "%.3f", off.hitRate)) hit_rate_affinity=\(String(format: "%.3f", on.hitRate))")
    }

    private func fixture(nodes count: Int, settings: SchedulerSettings = SchedulerSettings(), clock: @escaping @Sendable () -> Int64)
        -> (Scheduler, [LiveNode])
    {
        let registry = NodeRegistry(clock: clock)
        var generator = SplitMix64(seed: UInt64(count))
        let nodes = (0..<count).map { index in
            let node = registry.register(
                NodeProfile(id: "node_\(index)", name: "gpu-\(index)", orgID: nil, zone: "home", engineURL: "http://127.0.0.1:1",
                            models: ["m"], capacityTokensPerSecond: Double(Int.random(in: 500...2_000, using: &generator))),
                operatorDraining: false)
            registry.heartbeat(node.id, engineReady: true, engine: nil)
            return node
        }
        return (Scheduler(registry: registry, settings: settings, clock: clock), nodes)
    }

    private func pickLatency(nodes count: Int) -> (mean: Double, p99: Double) {
        let (scheduler, nodes) = fixture(nodes: count) { 1_800_000_000_000 }
        var generator = SystemRandomNumberGenerator()
        for node in nodes { for _ in 0..<Int.random(in: 0..<20, using: &generator) { node.started() } }
        let org = OrgID.generate()
        let requests = (0..<64).map { PlacementRequest(model: "m", orgID: org, zone: "home", reserved: false, prefix: $0) }
        let clock = ContinuousClock()
        var samples: [Double] = []
        samples.reserveCapacity(picks)
        var sink = 0
        let total = clock.measure {
            for index in 0..<picks {
                let began = clock.now
                let plan = scheduler.plan(requests[index & 63])
                samples.append(Double((clock.now - began).components.attoseconds) / 1e12)
                sink &+= plan.nodes.count
            }
        }
        precondition(sink > 0)
        samples.sort()
        let mean = Double(total.components.seconds) * 1e6 + Double(total.components.attoseconds) / 1e12
        return (mean / Double(picks), samples[samples.count * 99 / 100])
    }

    struct Run {
        var requests = 0
        var hitRate = 0.0
        var spread = 0.0
        var meanLoad = 0.0
    }

    /// Requests arrive each 10 ms step, last 0.2-2 s, and generate 30 tok/s each; agents report
    /// every 5 s. Each engine's prefix cache holds its `cacheSlots` most recently used system
    /// prompts; a "hit" is a request placed on a node whose cache holds its prompt. Both runs use
    /// the same seeded random sequence.
    private func simulate(affinity: Bool) -> Run {
        let now = Atomic<Int64>(1_800_000_000_000)
        let (scheduler, nodes) = fixture(nodes: nodes) { now.load(ordering: .relaxed) }
        let capacity = nodes.map { $0.profile.capacityTokensPerSecond }.reduce(0, +)
        // ~60% of capacity: (capacity × 0.6 / 30 tok/s) requests in flight, 110 steps each.
        let arrivalsPerStep = capacity * 0.6 / 30 / 110
        var generator = SplitMix64(seed: 7)
        let org = OrgID.generate()
        let prefixWeights = (1...prompts).map { 1.0 / Double($0) }
        let weightTotal = prefixWeights.reduce(0, +)
        var running: [(end: Int, node: LiveNode)] = []
        var caches = Array(repeating: [Int](), count: nodes.count)
        let index = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1.id, $0) })
        var loadSums = Array(repeating: 0.0, count: nodes.count)
        var run = Run()
        var hits = 0
        var carry = 0.0
        for step in 0..<steps {
            now.store(1_800_000_000_000 + Int64(step) * 10, ordering: .relaxed)
            running.removeAll { entry in
                guard entry.end <= step else { return false }
                entry.node.finished()
                return true
            }
            if step % 500 == 0 {
                for node in nodes {
                    scheduler.registry.heartbeat(node.id, engineReady: true,
                                                 engine: (Double(node.requestsInFlight) * 30, node.requestsInFlight))
                }
            }
            carry += arrivalsPerStep
            while carry >= 1 {
                carry -= 1
                var pick = Double.random(in: 0..<weightTotal, using: &generator)
                var prefix = 0
                while pick >= prefixWeights[prefix] { pick -= prefixWeights[prefix]; prefix += 1 }
                let plan = scheduler.plan(PlacementRequest(model: "m", orgID: org, zone: "home", reserved: false,
                                                           prefix: affinity ? prefix : nil))
                guard let node = plan.nodes.first, let slot = index[node.id] else { continue }
                if let cached = caches[slot].firstIndex(of: prefix) {
                    hits += 1
                    caches[slot].remove(at: cached)
                } else if caches[slot].count == cacheSlots {
                    caches[slot].removeFirst()
                }
                caches[slot].append(prefix)
                node.started()
                running.append((step + Int.random(in: 20...200, using: &generator), node))
                run.requests += 1
            }
            for (slot, node) in nodes.enumerated() {
                loadSums[slot] += Double(node.requestsInFlight) * 30 / node.profile.capacityTokensPerSecond
            }
        }
        for entry in running { entry.node.finished() }
        let means = loadSums.map { $0 / Double(steps) }
        run.hitRate = Double(hits) / Double(max(1, run.requests))
        run.spread = (means.max() ?? 0) / max(means.min() ?? 1, 1e-9)
        run.meanLoad = means.reduce(0, +) / Double(means.count)
        return run
    }
}

/// A seeded generator, so that the runs with and without affinity see the same workload.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
