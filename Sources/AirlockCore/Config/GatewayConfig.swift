import Foundation

/// A customer-supplied server certificate (PEM chain) and its private key (PEM), replacing the
/// one `airlockd` issues from its own HTTPS CA on first start.
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
    /// Most requests in flight to one engine, each on its own pooled HTTP/1.1 connection. A node
    /// at this count is passed over; when every node for a model is, the request is refused at
    /// once with 429 `server_overloaded` rather than left waiting for a connection. The default
    /// equals the global concurrency default, so that with one engine the admission limits, not
    /// the pool, decide.
    public var maxConnectionsPerEngine = 1_024
    /// An engine connection idle this long is closed by Airlock. It must be shorter than the
    /// engines' own keep-alive (vLLM's `VLLM_HTTP_TIMEOUT_KEEP_ALIVE` and uvicorn's default, which
    /// SGLang uses, are 5 s): when the engine closes an idle connection first, a request sent on
    /// it at that moment fails with nothing received, and the request fails over or gets a 502.
    public var engineKeepAliveSeconds = 4
    /// Set when the file still has `max_idle_connections_per_engine`, which releases before this
    /// one read as the pool's size (it capped requests in flight per engine at 64 by default, and
    /// one more waited for a connection and failed with 502 after `connect_timeout_ms`). It is
    /// accepted, so that an upgraded appliance's file still loads, and ignored; `airlockd` says so.
    public var obsoleteIdleConnectionsKey = false

    public init() {}

    /// How long an admission lease — a request's concurrency slots — lasts if it is never
    /// settled: 10 minutes, or twice `read_timeout_seconds` when that is longer. A stream renews
    /// its lease at the first chunk a quarter-lease after the last renewal, so only a silence of
    /// three quarters of a lease could lose it; an engine silent for `read_timeout_seconds` has
    /// its stream ended first. (Leases matter only inside one run: a restart starts them empty.)
    public var admissionLeaseMillis: Int64 { max(600_000, Int64(readTimeoutSeconds) * 2_000) }
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
    /// What `airlockd` logs (and `check-config` prints) when the file has the obsolete key.
    public static let obsoleteIdleConnectionsNote =
        "gateway.max_idle_connections_per_engine is no longer used and is ignored; gateway.max_connections_per_engine "
        + "(default \(GatewaySettings().maxConnectionsPerEngine)) caps the requests in flight to each engine"

    mutating func read(_ section: inout TOMLSection) throws {
        if let zone = try section.string("zone") {
            guard EngineConfig.isName(zone) else { throw section.error("zone", "use 1-64 letters, digits, '-', '_' or '.'") }
            self.zone = zone
        }
        connectTimeoutMillis = try section.int("connect_timeout_ms", in: 10...60_000) ?? connectTimeoutMillis
        readTimeoutSeconds = try section.int("read_timeout_seconds", in: 1...3_600) ?? readTimeoutSeconds
        maxConnectionsPerEngine = try section.int("max_connections_per_engine", in: 1...16_384) ?? maxConnectionsPerEngine
        engineKeepAliveSeconds = try section.int("engine_keepalive_seconds", in: 1...3_600) ?? engineKeepAliveSeconds
        obsoleteIdleConnectionsKey = try section.int("max_idle_connections_per_engine", in: 1...4_096) != nil
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
        guard let given = try section.string("url") else { throw section.error("url", "required") }
        guard let url = engineURL(given) else {
            throw section.error("url", "expected http(s)://host:port with no path, got '\(given)'")
        }
        let capacity = try section.int("capacity_tokens_per_second", in: 1...100_000_000) ?? 1_000
        try section.finish()
        return EngineConfig(name: name, model: model, url: url, capacityTokensPerSecond: capacity)
    }

    /// An engine's base URL as Airlock stores it — `http(s)://host[:port]` with no path, query or
    /// trailing slash — or nil if `text` is not one. The one rule for `[[engines]]` and for the
    /// URL an agent registers.
    public static func engineURL(_ text: String) -> String? {
        guard let parsed = URL(string: text), let scheme = parsed.scheme, ["http", "https"].contains(scheme),
              parsed.host != nil, parsed.query == nil, parsed.fragment == nil, parsed.path.isEmpty || parsed.path == "/"
        else { return nil }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    static func isName(_ text: String) -> Bool {
        (1...64).contains(text.count)
            && text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }
    }
}

