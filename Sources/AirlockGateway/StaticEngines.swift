import AirlockCore
import AirlockScheduler
import AsyncHTTPClient
import NIOCore

/// The static `[[engines]]` list: a development and test option (no agent, no mTLS). Each
/// engine becomes a shared node in the home zone of the registry, under the id `static:<name>`,
/// and its `/health` probe stands in for heartbeats — so the scheduler treats it like any node.
public struct StaticEngines: Sendable {
    public let configs: [EngineConfig]
    let registry: NodeRegistry

    public init(_ configs: [EngineConfig], zone: String, registry: NodeRegistry) {
        self.configs = configs
        self.registry = registry
        // One node per engine name; an engine serving several models is listed once per model.
        for (name, entries) in Dictionary(grouping: configs, by: \.name) {
            registry.register(NodeProfile(
                id: "static:" + name, name: name, orgID: nil, zone: zone, engineURL: entries[0].url,
                models: entries.map(\.model), capacityTokensPerSecond: Double(entries[0].capacityTokensPerSecond)),
                operatorDraining: false)
        }
    }

    /// Probes every engine's `/health` once, concurrently; a passing probe is a heartbeat with
    /// the engine ready, a failing one a heartbeat with it not ready.
    public func probe(with client: HTTPClient, timeout: TimeAmount = .seconds(2)) async {
        let engines = Dictionary(grouping: configs, by: \.name).mapValues { $0[0].url }
        await withTaskGroup(of: Void.self) { group in
            for (name, url) in engines {
                group.addTask {
                    let request = HTTPClientRequest(url: url + "/health")
                    let ok: Bool
                    do {
                        let response = try await client.execute(request, timeout: timeout)
                        _ = try? await response.body.collect(upTo: 64 * 1024)
                        ok = (200..<300).contains(response.status.code)
                    } catch {
                        ok = false
                    }
                    registry.heartbeat("static:" + name, engineReady: ok, engine: nil)
                }
            }
        }
    }
}
