import AirlockCore
import AsyncHTTPClient
import NIOCore
import Synchronization

/// One inference engine and what the gateway knows of it live: requests in flight through this
/// process (counted the moment one is sent, not at the next probe) and whether it answered its
/// last health probe.
public final class Engine: Sendable {
    public let config: EngineConfig
    private let inFlight = Atomic<Int>(0)
    let healthy = Atomic<Bool>(false)

    init(config: EngineConfig) {
        self.config = config
    }

    public var isHealthy: Bool { healthy.load(ordering: .relaxed) }

    /// A request was sent to this engine; it counts towards the load until `finished()`.
    func started() { inFlight.add(1, ordering: .relaxed) }
    func finished() { inFlight.subtract(1, ordering: .relaxed) }
    public var requestsInFlight: Int { inFlight.load(ordering: .relaxed) }

    /// Requests in flight per 1,000 tokens/s of capacity: lower is less loaded.
    var load: Double { Double(requestsInFlight) * 1_000 / Double(config.capacityTokensPerSecond) }
}

/// The engines by model, from the static `[[engines]]` list (issue D replaces it with the node
/// registry and scheduler). Placement: healthy engines, least loaded first; unhealthy ones after
/// them, because a probe can be stale and a refused connection fails over quickly.
public final class EngineDirectory: Sendable {
    public let engines: [Engine]
    private let byModel: [String: [Engine]]

    public init(_ configs: [EngineConfig]) {
        engines = configs.map(Engine.init)
        byModel = Dictionary(grouping: engines, by: { $0.config.model })
    }

    /// Every model some engine serves, sorted.
    public var models: [String] { byModel.keys.sorted() }

    public func serves(_ model: String) -> Bool { byModel[model] != nil }

    /// Engines to try for `model`, best first; empty if no engine serves it.
    func candidates(for model: String) -> [Engine] {
        guard let engines = byModel[model] else { return [] }
        if engines.count == 1 { return engines }
        return engines.sorted { lhs, rhs in
            let (left, right) = (lhs.isHealthy, rhs.isHealthy)
            if left != right { return left }
            return lhs.load < rhs.load
        }
    }

    /// True once at least one engine has answered a probe (`/readyz`).
    public var anyHealthy: Bool { engines.contains { $0.isHealthy } }

    /// Probes every engine's `/health` once, concurrently.
    public func probe(with client: HTTPClient, timeout: TimeAmount = .seconds(2)) async {
        await withTaskGroup(of: Void.self) { group in
            for engine in engines {
                group.addTask {
                    let request = HTTPClientRequest(url: engine.config.url + "/health")
                    let ok: Bool
                    do {
                        let response = try await client.execute(request, timeout: timeout)
                        _ = try? await response.body.collect(upTo: 64 * 1024)
                        ok = (200..<300).contains(response.status.code)
                    } catch {
                        ok = false
                    }
                    engine.healthy.store(ok, ordering: .relaxed)
                }
            }
        }
    }
}
