import Foundation
import TOMLKit

/// The typed form of `airlock.toml`. `appliance/airlock.toml` documents every key; the defaults
/// here are the same values, so a missing file and the shipped file behave alike.
public struct AirlockConfig: Equatable, Sendable {
    /// Where SQLite, LMDB, secrets and certificates live.
    public var dataDir: String = "/var/lib/airlock"
    /// OpenAI API, admin API, dashboard (HTTPS).
    public var apiListen = ListenAddress(host: "0.0.0.0", port: 8443)
    /// Names clients use to reach the API (beyond localhost and the host name) that the
    /// appliance's own HTTPS certificate must carry. Agents enrol on this port too, so
    /// `agentHostnames` are added.
    public var apiHostnames: [String] = []
    /// Longest time a request on the HTTPS port may take to arrive, head to end of body; then it
    /// gets 408 and its connection is closed. At the 4 MiB body cap, 60 s asks ~70 KB/s of a
    /// client, far below any data-centre link, and stops a body trickled a byte at a time.
    public var apiRequestReadTimeoutSeconds = 60
    /// Node agents (gRPC over mutual TLS).
    public var agentListen = ListenAddress(host: "0.0.0.0", port: 9443)
    /// Names agents use to reach this appliance on 9443 (beyond localhost and the host name): the
    /// 9443 certificate names them, and agents verify it.
    public var agentHostnames: [String] = []
    /// Development vendor keys (trusted-keys lines), trusted beside the built-in production ones.
    public var licenseVendorKeyFiles: [String] = []
    /// A clock this far behind the latest recorded time is flagged (audited) as turned back.
    public var licenseClockToleranceSeconds = 300
    /// How long a rotated key's previous secret keeps working.
    public var keyRotationGraceSeconds: Int = 86_400
    /// Most ledger rows one group commit (one fsync) covers.
    public var ledgerBatchMaxRows: Int = 512
    /// Under load, the least time between two group commits, so that each covers more rows.
    public var ledgerMinCommitIntervalMillis: Int = 2
    public var limits = Limits()
    /// `api.tls_certificate` and `api.tls_private_key`; nil means one from the appliance's HTTPS CA.
    public var apiTLS: TLSFiles?
    public var gateway = GatewaySettings()
    public var scheduler = SchedulerSettings()
    public var upgrade = UpgradeSettings()
    public var reconcile = ReconcileSettings()
    public var metrics = MetricsSettings()
    /// The static engine list (`[[engines]]`) until issue D registers nodes.
    public var engines: [EngineConfig] = []

    /// Default limits for each of the four layers, plus per-request caps.
    public struct Limits: Equatable, Sendable {
        public var global = LimitSet(requestsPerMinute: 60_000, tokensPerMinute: 20_000_000, concurrency: 1_024)
        public var org = LimitSet(requestsPerMinute: 6_000, tokensPerMinute: 2_000_000, concurrency: 256)
        public var env = LimitSet(requestsPerMinute: 3_000, tokensPerMinute: 1_000_000, concurrency: 128)
        public var key = LimitSet(requestsPerMinute: 600, tokensPerMinute: 200_000, concurrency: 32)
        public var maxTokensPerRequest: Int = 32_768
        public var maxRequestBytes: Int = 4 * 1024 * 1024
        public init() {}
    }

    public init() {}

    /// The file used when neither `--config` nor `AIRLOCK_CONFIG` names one.
    public static let defaultPath = "/etc/airlock/airlock.toml"

    /// Loads `path`, or the built-in defaults when `path` is nil.
    public static func load(path: String?) throws -> AirlockConfig {
        guard let path else { return AirlockConfig() }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, key: "", reason: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    /// Parses TOML text; `file` only labels error messages.
    public static func parse(_ text: String, file: String) throws -> AirlockConfig {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(file: file, key: "", reason: "line \(error.source.begin.line): \(error.description)")
        }
        var root = TOMLSection(table: table, path: "", file: file)
        var config = AirlockConfig()
        try config.read(&root)
        return config
    }

    /// `hostnames`: names a certificate the appliance makes must carry.
    private static func hostnames(_ section: inout TOMLSection) throws -> [String] {
        let names = try section.strings("hostnames") ?? []
        for name in names where name.isEmpty || name.utf8.count > 253 || name.contains(where: { $0.isWhitespace }) {
            throw section.error("hostnames", "'\(name)' is not a host name or address")
        }
        return names
    }

    /// Where airlockd serves the admin API to the `airlock` CLI on this host.
    public static func adminSocketPath(dataDirectory: String) -> String { dataDirectory + "/run/admin.sock" }

    /// Linux's limit on a Unix socket's path: `sun_path` holds 108 bytes with the final NUL.
    public static let maxSocketPathBytes = 107

    /// Why `dir` cannot be a data directory, if it cannot: its admin socket's path must fit a
    /// Unix socket's. Checked for the file's `data_dir` and for `--data-dir`/`$AIRLOCK_DATA_DIR`
    /// alike, so that check-config says it rather than the daemon failing to bind the socket.
    static func dataDirProblem(_ dir: String) -> String? {
        let socket = adminSocketPath(dataDirectory: dir)
        guard socket.utf8.count > maxSocketPathBytes else { return nil }
        return "is too long: the daemon's admin socket \(socket) would be \(socket.utf8.count) bytes, "
            + "and a Unix socket's path holds at most \(maxSocketPathBytes)"
    }

    private mutating func read(_ root: inout TOMLSection) throws {
        if let dir = try root.string("data_dir") {
            guard dir.hasPrefix("/") else { throw root.error("data_dir", "must be an absolute path, got '\(dir)'") }
            if let reason = Self.dataDirProblem(dir) { throw root.error("data_dir", reason) }
            dataDir = dir
        }
        if var api = try root.section("api") {
            apiListen = try Self.listen(&api) ?? apiListen
            apiTLS = try Self.tlsFiles(&api)
            apiHostnames = try Self.hostnames(&api)
            apiRequestReadTimeoutSeconds = try api.int("request_read_timeout_seconds", in: 1...3_600) ?? apiRequestReadTimeoutSeconds
            try api.finish()
        }
        if var agents = try root.section("agents") {
            agentListen = try Self.listen(&agents) ?? agentListen
            agentHostnames = try Self.hostnames(&agents)
            try agents.finish()
        }
        if var license = try root.section("license") {
            licenseVendorKeyFiles = try license.strings("vendor_key_files") ?? []
            licenseClockToleranceSeconds = try license.int("clock_tolerance_seconds", in: 0...86_400) ?? licenseClockToleranceSeconds
            for file in licenseVendorKeyFiles where !file.hasPrefix("/") {
                throw license.error("vendor_key_files", "'\(file)' must be an absolute path")
            }
            try license.finish()
        }
        if var keys = try root.section("keys") {
            keyRotationGraceSeconds = try keys.int("rotation_grace_seconds", in: 0...(90 * 86_400)) ?? keyRotationGraceSeconds
            try keys.finish()
        }
        if var ledger = try root.section("ledger") {
            ledgerBatchMaxRows = try ledger.int("batch_max_rows", in: 1...65_536) ?? ledgerBatchMaxRows
            ledgerMinCommitIntervalMillis = try ledger.int("min_commit_interval_ms", in: 0...1_000) ?? ledgerMinCommitIntervalMillis
            try ledger.finish()
        }
        if var limitsSection = try root.section("limits") {
            try limits.read(&limitsSection)
        }
        if var gatewaySection = try root.section("gateway") {
            try gateway.read(&gatewaySection)
        }
        if var schedulerSection = try root.section("scheduler") {
            try scheduler.read(&schedulerSection)
        }
        if var upgradeSection = try root.section("upgrade") {
            try upgrade.read(&upgradeSection)
        }
        if var reconcileSection = try root.section("reconcile") {
            try reconcile.read(&reconcileSection)
        }
        if var metricsSection = try root.section("metrics") {
            try metrics.read(&metricsSection)
        }
        engines = try root.tables("engines").enumerated().map { index, section in
            var section = section
            return try EngineConfig.read(&section, index: index)
        }
        var names = Set<String>()
        for engine in engines where !names.insert(engine.name).inserted {
            throw root.error("engines", "two engines are named '\(engine.name)'")
        }
        try root.finish()
    }

    private static func tlsFiles(_ section: inout TOMLSection) throws -> TLSFiles? {
        let certificate = try section.string("tls_certificate")
        let key = try section.string("tls_private_key")
        switch (certificate, key) {
        case (nil, nil): return nil
        case let (certificate?, key?):
            for (name, path) in [("tls_certificate", certificate), ("tls_private_key", key)] where !path.hasPrefix("/") {
                throw section.error(name, "must be an absolute path, got '\(path)'")
            }
            return TLSFiles(certificateChain: certificate, privateKey: key)
        case (nil, _): throw section.error("tls_certificate", "required when tls_private_key is set")
        case (_, nil): throw section.error("tls_private_key", "required when tls_certificate is set")
        }
    }

    private static func listen(_ section: inout TOMLSection) throws -> ListenAddress? {
        guard let text = try section.string("listen") else { return nil }
        switch ListenAddress.parse(text) {
        case let .success(address): return address
        case let .failure(reason): throw section.error("listen", reason.description)
        }
    }
}

extension AirlockConfig.Limits {
    fileprivate mutating func read(_ section: inout TOMLSection) throws {
        // A layer table replaces that layer's defaults whole: a key left out means "no limit",
        // so what the file says is exactly what applies.
        if var layer = try section.section("global") { global = try LimitSet.read(&layer) }
        if var layer = try section.section("org") { org = try LimitSet.read(&layer) }
        if var layer = try section.section("env") { env = try LimitSet.read(&layer) }
        if var layer = try section.section("key") { key = try LimitSet.read(&layer) }
        maxTokensPerRequest = try section.int("max_tokens_per_request", in: 1...10_000_000) ?? maxTokensPerRequest
        maxRequestBytes = try section.int("max_request_bytes", in: 1_024...(256 * 1024 * 1024)) ?? maxRequestBytes
        try section.finish()
    }
}
