import AirlockCore
import AirlockIdentity
import AirlockLicensing
import AirlockMetrics
import AirlockStore
import ArgumentParser
import Foundation

/// `airlockd`: the control-plane daemon: `serve` runs it; `init` and `check-config` prepare and
/// validate its data directory and configuration.
@main
struct Airlockd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "airlockd",
        abstract: "The Airlock control-plane daemon.",
        subcommands: [CheckConfig.self, Initialize.self, Serve.self, Version.self]
    )
}

/// Options shared by every `airlockd` command.
struct DaemonOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: $AIRLOCK_CONFIG, then /etc/airlock/airlock.toml).")
    var config: String?

    @Option(name: .long, help: "Data directory (default: $AIRLOCK_DATA_DIR, then data_dir in airlock.toml).")
    var dataDir: String?

    /// The effective configuration; a bad file stops the daemon with file, key and reason.
    func load() throws -> AirlockConfig {
        do {
            return try AirlockConfig.resolve(configFlag: config, dataDirFlag: dataDir)
        } catch let error as ConfigError {
            throw DaemonFailure(description: error.description)
        }
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate airlock.toml and print the effective settings.")
    @OptionGroup var options: DaemonOptions

    func run() async throws {
        let config = try options.load()
        print("data_dir = \(config.dataDir)")
        print("api.listen = \(config.apiListen)")
        print("api.request_read_timeout_seconds = \(config.apiRequestReadTimeoutSeconds)")
        print("agents.listen = \(config.agentListen)")
        print("keys.rotation_grace_seconds = \(config.keyRotationGraceSeconds)")
        print("ledger.batch_max_rows = \(config.ledgerBatchMaxRows)")
        print("ledger.min_commit_interval_ms = \(config.ledgerMinCommitIntervalMillis)")
        print("gateway.max_connections_per_engine = \(config.gateway.maxConnectionsPerEngine)")
        print("gateway.engine_keepalive_seconds = \(config.gateway.engineKeepAliveSeconds)")
        if config.gateway.obsoleteIdleConnectionsKey { print("note: \(GatewaySettings.obsoleteIdleConnectionsNote)") }
        print("metrics.enabled = \(config.metrics.enabled)" + (config.metrics.scrapeTokenFile.map { " scrape_token_file=\($0)" } ?? ""))
        print("limits.max_tokens_per_request = \(config.limits.maxTokensPerRequest)")
        print("limits.max_request_bytes = \(config.limits.maxRequestBytes)")
        for (layer, limits) in [("global", config.limits.global), ("org", config.limits.org), ("env", config.limits.env), ("key", config.limits.key)] {
            print("limits.\(layer) = \(describe(limits))")
        }
        print("configuration OK")
    }

    private func describe(_ limits: LimitSet) -> String {
        let parts: [(String, Int?)] = [
            ("requests_per_minute", limits.requestsPerMinute), ("tokens_per_minute", limits.tokensPerMinute),
            ("tokens_per_second", limits.tokensPerSecond), ("concurrency", limits.concurrency),
            ("tokens_per_day", limits.tokensPerDay),
        ]
        let set = parts.compactMap { name, value in value.map { "\(name)=\($0)" } }
        return set.isEmpty ? "unlimited" : set.joined(separator: " ")
    }
}

struct Initialize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the data directory, its key-hashing secret, and bring the database schema up to date.",
        discussion: "Run it as the user the daemon runs as (e.g. sudo -u airlock), so that it owns what it creates.")
    @OptionGroup var options: DaemonOptions

    func run() async throws {
        let config = try options.load()
        do {
            let store = try Store(dataDirectory: config.dataDir)
            _ = try await KeyHasher.forStore(store, dataDirectory: config.dataDir)
            let applied = try await store.appliedMigrations()
            // The appliance's licensing identity, made once: its fingerprint is what activations name.
            let identity = try ApplianceIdentity.openOrCreate(dataDirectory: config.dataDir)
            if config.metrics.enabled { _ = try ScrapeToken.load(config.metrics, dataDirectory: config.dataDir) }
            print("data dir \(config.dataDir) ready: \(applied.count) migrations applied (\(applied.last ?? "none")); "
                  + "appliance \(identity.fingerprint)")
        } catch let error as AirlockError {
            throw DaemonFailure(description: error.description)
        } catch let error as LicensingError {
            throw DaemonFailure(description: error.description)
        }
    }
}

/// `airlockd version`: the release and build, and the schema migrations this build carries —
/// what `airlock-vendor bundle build` records in a bundle's manifest.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the release, the build version and the schema migrations this build carries.")
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let running = RunningRelease.current
        if json {
            struct Answer: Encodable { var release: String?; var build: String; var migrations: [String] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(Answer(release: running.release, build: running.build, migrations: Store.knownMigrations)), as: UTF8.self))
            return
        }
        print("airlockd \(running.build)" + (running.release.map { " (release \($0))" } ?? ""))
        print("schema migrations: \(Store.knownMigrations.count) (last \(Store.knownMigrations.last ?? "-"))")
    }
}

/// A start-up failure already phrased for the operator: printed as one line, exit status 1.
struct DaemonFailure: Error, CustomStringConvertible {
    var description: String
}
