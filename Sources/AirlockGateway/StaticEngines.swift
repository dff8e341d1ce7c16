import AirlockCore
import AirlockScheduler
import AsyncHTTPClient
import NIOCore

/// The static `[[engines]]` list: a development and test option (no agent, no mutual TLS). Each
/// engine becomes a shared node in the home zone of the registry, under the id `static:<name>`
/// (names are unique, the configuration sees to it), and its `/health` probe stands in for
/// heartbeats — so the scheduler treats it like any node.
public struct StaticEngines: Sendable {
    public let configs: [EngineConfig]
    let registry: NodeRegistry

    public init(_ configs: [EngineConfig], zone: String, registry: NodeRegistry) {
        self.configs = configs
        self.registry = registry
        for engine in configs {
            registry.register(NodeProfile(
                id: Self.id(engine), name: engine.name, orgID: nil, zone: zone, engineURL: engine.url, models: [engine.model],
                capacityTokensPerSecond: Double(engine.capacityTokensPerSecond)),
                operatorDraining: false)
        }
    }

    static func id(_ engine: EngineConfig) -> String { "static:" + engine.name }

    /// Probes every engine's `/health` once, concurrently; a passing probe is a heartbeat with
    /// the engine ready, a failing one a heartbeat with it not ready.
    public func probe(with client: HTTPClient, timeout: TimeAmount = .seconds(2)) async {
        await withTaskGroup(of: Void.self) { group in
            for engine in configs {
                group.addTask {
                    let request = HTTPClientRequest(url: engine.url + "/health")
                    let ok: Bool
                    do {
                        let response = try await client.execute(request, timeout: timeout)
                        _ = try? await response.body.collect(upTo: 64 * 1024)
                        ok = (200..<300).contains(response.status.code)
                    } catch {
                        ok = false
                    }
                    registry.heartbeat(Self.id(engine), engineReady: ok, engine: nil)
                }
            }
        }
    }
}
