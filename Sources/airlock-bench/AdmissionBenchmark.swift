import AirlockAdmission
import AirlockCore
import AirlockCounters
import ArgumentParser
import Foundation

/// Admission decisions per second and their latency: Airlock's LMDB admission in process,
/// beside the same four-layer policy as Redis Lua scripts (EVALSHA) against a real
/// `redis-server` started on loopback for the run (see `RedisPeer`). Redis is a benchmark peer
/// only, never a dependency of Airlock.
struct AdmissionBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "admission", abstract: "Admission decisions/s: LMDB vs Redis Lua.")

    @Option(help: "Decisions to time on each side.") var decisions = 200_000
    @Option(help: "Distinct API keys the traffic is spread over (10 keys per env, 5 envs per org).") var keys = 1_000
    @Option(help: "Concurrent callers on each side.") var callers = 8
    @Flag(help: "Skip the Redis side (no redis-server installed).") var lmdbOnly = false

    func run() async throws {
        let traffic = BenchTraffic(keys: keys)
        let requests = (0..<keys).map(traffic.request)
        let lmdb = try await measureLMDB(requests)
        print("admission decisions, \(decisions) per side, \(keys) keys, \(callers) callers, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("side     decisions/s  p50 µs   p99 µs")
        print(lmdb.row("lmdb"))
        if lmdbOnly {
            print("RESULT admission lmdb_per_s=\(Int(lmdb.perSecond)) lmdb_p50_us=\(lmdb.p50) lmdb_p99_us=\(lmdb.p99)")
            return
        }
        let redis = try RedisPeer.measure(traffic: traffic, decisions: decisions, clients: callers * 6)
        print(redis.row("redis"))
        print("RESULT admission lmdb_per_s=\(Int(lmdb.perSecond)) redis_per_s=\(Int(redis.perSecond)) ratio=\(String(format: "%.1f", lmdb.perSecond / redis.perSecond)) lmdb_p50_us=\(lmdb.p50) lmdb_p99_us=\(lmdb.p99) redis_p50_us=\(redis.p50) redis_p99_us=\(redis.p99)")
    }

    private func measureLMDB(_ requests: [AdmissionRequest]) async throws -> SideResult {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-bench-admission-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let counters = try CounterStore(dataDirectory: dir)
        let limits = BenchTraffic.limits
        let admission = Admission(counters: counters, limits: { _ in limits })
        let perCaller = decisions / callers
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for caller in 0..<callers {
                group.addTask {
                    var samples: [Int64] = []
                    samples.reserveCapacity(perCaller)
                    var generator = SystemRandomNumberGenerator()
                    for _ in 0..<perCaller {
                        let request = requests[Int.random(in: 0..<requests.count, using: &generator)]
                        let began = ContinuousClock.now
                        if case let .admitted(ticket) = try admission.admit(request) {
                            try admission.settle(ticket, actualTokens: request.estimatedTokens)
                        }
                        samples.append((ContinuousClock.now - began).microseconds)
                    }
                    _ = caller
                    return samples
                }
            }
            return try await group.reduce(into: [Int64]()) { $0 += $1 }
        }
        let seconds = (ContinuousClock.now - start).seconds
        return SideResult(perSecond: Double(latencies.count) / seconds, latenciesMicros: latencies)
    }
}

/// Synthetic tenants: `keys` keys, 10 per environment, 5 environments per org.
struct BenchTraffic: Sendable {
    let keys: Int

    /// Generous limits on every layer, so every layer is checked and charged but few refuse.
    static let limits = EffectiveLimits(
        global: LimitSet(requestsPerMinute: 100_000_000, tokensPerMinute: 1_000_000_000_000, concurrency: 100_000),
        org: LimitSet(requestsPerMinute: 10_000_000, tokensPerMinute: 100_000_000_000, tokensPerSecond: 1_000_000_000, concurrency: 10_000, tokensPerDay: 1_000_000_000_000),
        env: LimitSet(requestsPerMinute: 1_000_000, tokensPerMinute: 10_000_000_000, concurrency: 1_000, tokensPerDay: 1_000_000_000_000),
        key: LimitSet(requestsPerMinute: 100_000, tokensPerMinute: 1_000_000_000, tokensPerSecond: 100_000_000, concurrency: 100),
        maxTokensPerRequest: 4_096, maxRequestBytes: 1 << 20)

    func request(_ key: Int) -> AdmissionRequest {
        let env = key / 10, org = env / 5
        return AdmissionRequest(
            orgID: OrgID(unchecked: String(format: "org_%016x", org)), envID: EnvID(unchecked: String(format: "env_%016x", env)),
            keyID: KeyID(unchecked: String(format: "key_%016x", key)), model: "llama-3-8b", promptTokens: 200, maxTokens: 300,
            bodyBytes: 2_000)
    }
}

struct SideResult {
    var perSecond: Double
    var p50: Int64
    var p99: Int64

    init(perSecond: Double, latenciesMicros: [Int64]) {
        self.perSecond = perSecond
        let sorted = latenciesMicros.sorted()
        p50 = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
    }

    init(perSecond: Double, p50: Int64, p99: Int64) {
        self.perSecond = perSecond
        self.p50 = p50
        self.p99 = p99
    }

    func row(_ side: String) -> String {
        side.padding(toLength: 9, withPad: " ", startingAt: 0)
            + "\(Int(perSecond))".padding(toLength: 13, withPad: " ", startingAt: 0)
            + "\(p50)".padding(toLength: 9, withPad: " ", startingAt: 0) + "\(p99)"
    }
}

extension Duration {
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
}
