import AirlockAdmin
import AirlockAdminAPI
import AirlockDashboard
import AirlockAdmission
import AirlockCertificates
import AirlockCore
import AirlockCounters
import AirlockGateway
import AirlockIdentity
import AirlockLicensing
import AirlockNodeControl
import AirlockScheduler
import AirlockStore
import AsyncHTTPClient
import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import ServiceLifecycle

/// `airlockd serve`: the daemon proper. Opens storage (rebuilding counters from the ledger if
/// they cannot be trusted), serves HTTPS on `api.listen`, and on SIGTERM/SIGINT stops accepting,
/// finishes in-flight requests, commits every pending ledger row and marks the counters clean.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the daemon: the OpenAI-compatible API over HTTPS.")
    @OptionGroup var options: DaemonOptions

    func run() async throws {
        let logger = Self.bootstrapLogging()
        let config = try options.load()
        do {
            try await serve(config, logger: logger)
        } catch let error as AirlockError {
            throw DaemonFailure(description: error.description)
        } catch let error as CertificateError {
            throw DaemonFailure(description: error.description)
        }
    }

    private func serve(_ config: AirlockConfig, logger: Logger) async throws {
        OpenFileLimit.raise(for: config, logger: logger)
        if config.gateway.obsoleteIdleConnectionsKey { logger.warning("\(GatewaySettings.obsoleteIdleConnectionsNote)") }
        // First, and exclusively: a second daemon on this data directory is refused before it
        // touches anything (after 10 s, for a restart whose old process is still committing).
        let claimed = try CounterStore(dataDirectory: config.dataDir, exclusive: true, waitForClaim: .seconds(10))
        let store = try Store(dataDirectory: config.dataDir)
        let hasher = try await KeyHasher.forStore(store, dataDirectory: config.dataDir)
        let (counters, recovery) = try await CounterRecovery.recover(claimed, store: store)
        if recovery.rebuilt {
            logger.notice("counters rebuilt from the ledger", metadata: [
                "rows": "\(recovery.rowsReplayed)", "moved_aside": "\(recovery.movedAside ?? "-")"])
        }
        let policy = LimitPolicy(defaults: config.limits, store: store)
        try await policy.refresh()
        let admission = Admission(counters: counters, leaseMillis: config.gateway.admissionLeaseMillis, limits: { policy.limits(for: $0) })
        let reconciliation = Reconciliation(store: store, counters: counters, mode: .live(confirmAfter: .seconds(2)))
        let appender = LedgerAppender(store: store, maxBatch: config.ledgerBatchMaxRows,
                                      minCommitInterval: .milliseconds(config.ledgerMinCommitIntervalMillis))
        let recorder = UsageRecorder(appender: appender, dataDirectory: config.dataDir, logger: logger)
        let client = EngineClient.make(config.gateway)
        let prober = EngineClient.makeProber(config.gateway)
        let certificate = try Self.certificate(config, logger: logger)
        let nodes = try NodePlane(config, store: store, hasher: hasher, logger: logger)
        try await nodes.reconciler.prime()
        let statics = StaticEngines(config.engines, zone: config.gateway.zone, registry: nodes.registry)
        if !config.licenseVendorKeyFiles.isEmpty {
            logger.notice("trusting development vendor keys beside the built-in ones", metadata: [
                "files": "\(config.licenseVendorKeyFiles.joined(separator: ","))"])
        }
        let license = LicenseWatch(
            state: LicenseState(dataDirectory: config.dataDir, keys: try VendorKeys.load(extraFiles: config.licenseVendorKeyFiles),
                                identity: try ApplianceIdentity.openOrCreate(dataDirectory: config.dataDir)),
            nodes: nodes, tolerance: config.licenseClockToleranceSeconds, logger: logger)
        await license.refresh()
        let resolver = IdentityResolver(store: store, hasher: hasher)
        var dependencies = Gateway.Dependencies(
            resolver: resolver, admission: admission,
            recorder: recorder, scheduler: nodes.scheduler, client: client, settings: config.gateway,
            requestCaps: config.limits, logger: logger)
        dependencies.license = { license.verdict }
        let spend = SpendGuard(store: store)
        try await spend.refresh()
        dependencies.budget = { spend.verdict(org: $0, model: $1) }
        let gateway = Gateway(dependencies)

        let router = Router(context: ApplianceRequestContext.self)
        GatewayRoutes.add(to: router, gateway: gateway, readiness: [
            { ("storage", (try? await store.read { try $0.tenancyGeneration() }) != nil) },
            { ("engines", nodes.registry.anyActive) },
        ], connectionLoop: { $0.eventLoop })
        nodes.addEnrolmentRoute(to: router)
        try MetricsEndpoint.add(to: router, config, nodes: nodes, recorder: recorder, license: license, logger: logger)
        let admin = try Self.adminAPI(config, store: store, hasher: hasher, resolver: resolver, license: license, nodes: nodes,
                                      reconciler: reconciliation, logger: logger)
        admin.add(to: router)
        Dashboard(api: admin, traffic: { gateway.outcomes.recent(at: .now()) }).add(to: router)
        await statics.probe(with: prober)
        let app = Application(
            router: router,
            server: .tlsOnly(try certificate.tlsConfiguration(), requestReadSeconds: config.apiRequestReadTimeoutSeconds, logger: logger),
            configuration: .init(address: .hostname(config.apiListen.host, port: config.apiListen.port), serverName: "airlockd"),
            services: [
                Housekeeping(policy: policy, spend: spend, statics: statics, license: license, nodes: nodes,
                             dataDirectory: config.dataDir, prober: prober, logger: logger),
                ReconcileJob(reconciliation: reconciliation, settings: config.reconcile, logger: logger),
                nodes.service(),
                try Self.adminSocket(admin, dataDirectory: config.dataDir, logger: logger),
            ],
            onServerRunning: { channel in
                logger.notice("serving HTTPS", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
            },
            logger: logger)

        async let recording: Void = recorder.run()
        var failure: (any Error)?
        do {
            try await app.runService()
        } catch {
            // The node listener and the admin socket name themselves (a `ListenFailure` is no
            // bind failure); one left unnamed is the HTTPS API's own listener.
            let named: any Error = ListenFailure.isBindFailure(error)
                ? ListenFailure(what: "the HTTPS API ([api] listen)", address: "\(config.apiListen)", underlying: error) : error
            logger.error("server stopped", metadata: ["error": "\(named)"])
            failure = named
        }
        try? FileManager.default.removeItem(atPath: AirlockConfig.adminSocketPath(dataDirectory: config.dataDir))
        recorder.finish()
        await recording
        try await client.shutdown()
        try await prober.shutdown()
        try counters.close()
        logger.notice("stopped cleanly; ledger rows committed, counters marked clean")
        // A daemon that could not serve did not stop as asked: exit 1, so that systemd's
        // `Restart=on-failure` and monitoring see a failure, not a clean stop.
        if let failure { throw DaemonFailure(description: "\(failure)") }
    }

    /// The admin API and the dashboard's service layer: the licence's entitlements enforced, the
    /// resolver told at once when tenancy changes.
    private static func adminAPI(_ config: AirlockConfig, store: Store, hasher: KeyHasher, resolver: IdentityResolver,
                                 license: LicenseWatch, nodes: NodePlane, reconciler: any UsageReconciler, logger: Logger) throws -> AdminAPI {
        let actions = AdminActions(
            store: store, hasher: hasher, rotationGraceSeconds: config.keyRotationGraceSeconds,
            onTenancyChange: { resolver.invalidate() }, entitlements: { _ in license.status?.entitlements })
        let credential = try LocalAdminCredential.openOrCreate(dataDirectory: config.dataDir)
        var dependencies = AdminAPI.Dependencies(
            actions: actions, ledger: LedgerAudit(store: store), sessions: SessionStore(), credential: credential,
            liveNodes: { nodes.registry.snapshot(at: .now()) }, license: { license.status }, logger: logger,
            licenseState: license.state, licenseChanged: { await license.refresh() }, agentRollouts: nodes.rollouts)
        dependencies.reconciler = reconciler
        return AdminAPI(dependencies)
    }

    /// The admin API on `<data_dir>/run/admin.sock` for the `airlock` CLI on this host: plain HTTP
    /// that never leaves the machine, reachable only by whoever may enter the 0700 `run/` folder
    /// (the daemon's user, root) and still needing the local admin credential.
    private static func adminSocket(_ admin: AdminAPI, dataDirectory: String, logger: Logger) throws -> some Service {
        let run = dataDirectory + "/run"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        _ = chmod(run, 0o700)
        let path = AirlockConfig.adminSocketPath(dataDirectory: dataDirectory)
        try? FileManager.default.removeItem(atPath: path)  // left by a daemon that did not stop cleanly
        let router = Router(context: ApplianceRequestContext.self)
        admin.add(to: router)
        return NamedListener(what: "the airlock CLI (the admin socket)", address: path, base: Application(
            router: router, configuration: .init(address: .unixDomainSocket(path: path), serverName: "airlockd-admin"),
            onServerRunning: { _ in
                _ = chmod(path, 0o600)
                logger.notice("admin API on the local socket for the airlock CLI", metadata: ["path": "\(path)"])
            },
            logger: logger))
    }

    private static func certificate(_ config: AirlockConfig, logger: Logger) throws -> ServerCertificate {
        if let files = config.apiTLS {
            let certificate = try ServerCertificate.load(certificatePath: files.certificateChain, privateKeyPath: files.privateKey)
            logger.notice("using the configured TLS certificate", metadata: ["sha256": "\(certificate.fingerprint)"])
            return certificate
        }
        let hostnames = localHostnames(config.apiHostnames + config.agentHostnames)
        let (certificate, provenance) = try ServerCertificate.applianceIssued(dataDirectory: config.dataDir, hostnames: hostnames)
        var metadata: Logger.Metadata = ["trust": "\(certificate.trustPath)", "sha256": "\(certificate.fingerprint)"]
        switch provenance {
        case .createdAuthority:
            logger.notice("created the appliance's HTTPS CA and a TLS certificate from it; clients and agents trust the CA file", metadata: metadata)
        case let .reissued(reason):
            metadata["reason"] = "\(reason)"
            logger.notice("issued a new TLS certificate from the appliance's HTTPS CA", metadata: metadata)
        case .reused:
            logger.notice("using the TLS certificate from the appliance's HTTPS CA", metadata: metadata)
        }
        return certificate
    }

    /// The names a certificate this daemon makes carries: localhost, this host's name, and `extra`.
    static func localHostnames(_ extra: [String] = []) -> [String] {
        Array(Set(["localhost", ProcessInfo.processInfo.hostName] + extra)).sorted()
    }

    /// Logs go to stderr (journald under systemd); `LOG_LEVEL` sets the level (default info),
    /// `LOG_FORMAT=json` one JSON object per line (default: text).
    private static func bootstrapLogging() -> Logger {
        let level = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        if ProcessInfo.processInfo.environment["LOG_FORMAT"] == "json" {
            LoggingSystem.bootstrap { JSONLogHandler(label: $0, level: level) }
            return Logger(label: "airlockd")
        }
        LoggingSystem.bootstrap { TextLogHandler(label: $0, level: level) }
        return Logger(label: "airlockd")
    }
}

/// Background upkeep while serving: limits, spend guardrails and node rows (revocations, drains,
/// reloads) reloaded within 1 s of an admin change or a ledger commit (from any process), silent
/// nodes swept; every 5 s static engines
/// probed, the licence judged again and the live node snapshot written for the CLI.
struct Housekeeping: Service {
    let policy: LimitPolicy
    let spend: SpendGuard
    let statics: StaticEngines
    let license: LicenseWatch
    let nodes: NodePlane
    let dataDirectory: String
    /// Static engines' `/health` probes go through their own client (`EngineClient.makeProber`).
    let prober: HTTPClient
    let logger: Logger

    func run() async throws {
        var tick = 0
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            // Stopping: the reads below would only fail with CancellationError, logged as errors.
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            do {
                try await policy.refresh()
            } catch {
                logger.error("could not reload limits", metadata: ["error": "\(error)"])
            }
            do {
                try await spend.refresh()
            } catch {
                logger.error("could not reload the spend guardrails", metadata: ["error": "\(error)"])
            }
            await nodes.reconciler.reconcile()
            tick += 1
            if tick % 5 == 0 {
                await statics.probe(with: prober)
                await license.refresh()
                do {
                    try nodes.registry.snapshot(at: .now()).write(dataDirectory: dataDirectory)
                } catch {
                    logger.warning("could not write the live node snapshot", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
