import Foundation

/// A customer-supplied server certificate (PEM chain) and its private key (PEM), replacing the
/// self-signed one `airlockd` makes on first start.
public struct TLSFiles: Equatable, Sendable {
    public var certificateChain: String
    public var privateKey: String

    public init(certificateChain: String, privateKey: String) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }
}

/// How the gateway talks to engines: `[gateway]` in airlock.toml.
public struct GatewaySettings: Equatable, Sendable {
    /// The zone recorded on ledger rows until nodes report their own (issue D).
    public var zone = "default"
    /// Connecting to an engine longer than this fails over to the next engine for the model.
    public var connectTimeoutMillis = 2_000
    /// Longest silence from an engine (before the first byte, or between two stream chunks).
    public var readTimeoutSeconds = 300
    /// Idle pooled connections to engines kept per engine.
    public var maxIdleConnectionsPerEngine = 64

    public init() {}
}

/// One inference engine from the static `[[engines]]` list: an OpenAI-compatible server (vLLM,
/// SGLang, airlock-sim) serving one model. Issue D replaces the list with registered nodes.
public struct EngineConfig: Equatable, Sendable {
    /// The node name recorded on ledger rows; never shown to API clients.
    public var name: String
    public var model: String
    /// Base URL without `/v1`, e.g. `http://10.0.0.7:8000`.
    public var url: String
    /// What the engine sustains, in generated tokens/s; the least loaded engine is picked.
    public var capacityTokensPerSecond: Int

    public init(name: String, model: String, url: String, capacityTokensPerSecond: Int) {
        self.name = name
        self.model = model
        self.url = url
        self.capacityTokensPerSecond = capacityTokensPerSecond
    }
}

extension GatewaySettings {
    mutating func read(_ section: inout TOMLSection) throws {
        if let zone = try section.string("zone") {
            guard EngineConfig.isName(zone) else { throw section.error("zone", "use 1-64 letters, digits, '-', '_' or '.'") }
            self.zone = zone
        }
        connectTimeoutMillis = try section.int("connect_timeout_ms", in: 10...60_000) ?? connectTimeoutMillis
        readTimeoutSeconds = try section.int("read_timeout_seconds", in: 1...3_600) ?? readTimeoutSeconds
        maxIdleConnectionsPerEngine = try section.int("max_idle_connections_per_engine", in: 1...4_096) ?? maxIdleConnectionsPerEngine
        try section.finish()
    }
}

extension EngineConfig {
    static func read(_ section: inout TOMLSection, index: Int) throws -> EngineConfig {
        let name = try section.string("name") ?? "engine-\(index + 1)"
        guard isName(name) else { throw section.error("name", "use 1-64 letters, digits, '-', '_' or '.'") }
        guard let model = try section.string("model") else { throw section.error("model", "required") }
        guard !model.isEmpty, model.utf8.count <= 256, !model.contains(where: { $0.isNewline || $0 == "\0" }) else {
            throw section.error("model", "must be 1-256 characters on one line")
        }
        guard let url = try section.string("url") else { throw section.error("url", "required") }
        guard let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme),
              parsed.host != nil, parsed.query == nil, parsed.path.isEmpty || parsed.path == "/"
        else {
            throw section.error("url", "expected http(s)://host:port with no path, got '\(url)'")
        }
        let capacity = try section.int("capacity_tokens_per_second", in: 1...100_000_000) ?? 1_000
        try section.finish()
        return EngineConfig(name: name, model: model, url: url.hasSuffix("/") ? String(url.dropLast()) : url,
                            capacityTokensPerSecond: capacity)
    }

    static func isName(_ text: String) -> Bool {
        (1...64).contains(text.count)
            && text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }
    }
}

/// Placement: `[scheduler]` in airlock.toml (seed 004 §§ 26–28).
public struct SchedulerConfig: Equatable, Sendable {
    /// Zones tried, in order, when the home zone (`gateway.zone`) has no node left for a request.
    public var fallbackZones: [String] = []
    /// How much more loaded (tok/s ÷ capacity) than the least-loaded node a node may be and still
    /// get a request for a prompt prefix it served recently.
    public var affinityMargin = 0.25
    /// Shed serverless requests (429) when the best node's load reaches this; nil never sheds.
    public var shedLoad: Double?

    public init() {}

    mutating func read(_ section: inout TOMLSection) throws {
        fallbackZones = try section.strings("fallback_zones") ?? []
        for zone in fallbackZones where !EngineConfig.isName(zone) {
            throw section.error("fallback_zones", "'\(zone)' is not a zone name (1-64 letters, digits, '-', '_' or '.')")
        }
        affinityMargin = try section.double("affinity_margin", in: 0...10) ?? affinityMargin
        shedLoad = try section.double("shed_load", in: 0.01...100)
        try section.finish()
    }
}
