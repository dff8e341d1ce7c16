import AirlockAdmin
import AirlockBundles
import AirlockCore
import AirlockStore
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// The machine side of an upgrade, for `airlock upgrade`: the configured restart, stop and smoke
/// commands run without a shell; readiness is `/readyz` over HTTPS trusting the appliance's own
/// CA; the smoke request asks the daemon, over its admin socket, which release it runs.
struct CommandLineUpgradeHost: UpgradeHost {
    let config: AirlockConfig
    let actor: String
    /// Progress goes to stderr when stdout carries JSON.
    let progressToStandardError: Bool

    func run(_ command: [String], purpose: String) async throws {
        guard !command.isEmpty else { throw BundleError("no command is configured to \(purpose)") }
        let pid: pid_t
        do {
            pid = try ChildSpawn.spawn(command[0], arguments: Array(command.dropFirst()),
                                       environment: ProcessInfo.processInfo.environment, searchPath: true)
        } catch {
            throw BundleError("cannot run `\(command.joined(separator: " "))` to \(purpose): \(error)")
        }
        let ended = await ChildSpawn.exit(of: pid)
        guard ended == .exited(status: 0) else {
            throw BundleError("`\(command.joined(separator: " "))` (\(purpose)) failed: \(ended)")
        }
    }

    func waitUntilReady(timeoutSeconds: Int) async throws {
        let client = try readinessClient()
        do {
            try await poll(client, timeoutSeconds: timeoutSeconds)
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func poll(_ client: HTTPClient, timeoutSeconds: Int) async throws {
        let host = config.apiListen.host == "0.0.0.0" || config.apiListen.host == "::" ? "127.0.0.1" : config.apiListen.host
        let url = "https://\(host.contains(":") ? "[\(host)]" : host):\(config.apiListen.port)/readyz"
        let deadline = ContinuousClock.now + .seconds(timeoutSeconds)
        var last = "no answer"
        while ContinuousClock.now < deadline {
            do {
                let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(3))
                if response.status == .ok { return }
                last = "\(response.status.code) \(String(buffer: try await response.body.collect(upTo: 4096)))"
            } catch {
                last = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw BundleError("the daemon did not become ready within \(timeoutSeconds) s (last answer: \(last.clipped(to: 200)))")
    }

    /// Trusts the appliance's HTTPS CA (or the customer's certificate chain when configured);
    /// the name is not checked because the call goes to the loopback address.
    private func readinessClient() throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        let caFile = config.apiTLS?.certificateChain ?? config.dataDir + "/tls/ca.crt"
        tls.trustRoots = .file(caFile)
        tls.certificateVerification = .noHostnameVerification
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }

    func smokeTest(expecting release: ReleaseVersion) async throws {
        guard let daemon = await DaemonAdmin.connect(dataDirectory: config.dataDir, actor: AdminActor(actor)) else {
            throw BundleError("the daemon does not answer on its admin socket")
        }
        struct Upgrades: Decodable { struct Running: Decodable { var release: String? }; var running: Running }
        let answer: Upgrades = try await daemon.call(.GET, "/admin/v1/upgrades")
        guard answer.running.release == release.description else {
            throw BundleError("the daemon runs release \(answer.running.release ?? "(not from a release folder)"), not \(release)")
        }
        if !config.upgrade.smokeCommand.isEmpty {
            try await run(config.upgrade.smokeCommand, purpose: "run the smoke command")
        }
    }

    /// With this binary's store when it knows the database's schema; otherwise through the
    /// `airlock` of the release now current, which does (its schema is the newer one).
    func audit(action: String, from: ReleaseVersion?, to: ReleaseVersion, detail: [String: String], release: String) async throws {
        let database = config.dataDir + "/" + Store.databaseFileName
        let recorded = Set(try Store.recordedMigrations(databaseAt: database))
        if recorded.isSubset(of: Store.knownMigrations) {
            try await UpgradeAudit.write(dataDirectory: config.dataDir, actor: actor, action: action, from: from?.description, to: to.description, detail: detail)
            return
        }
        var command = [release + "/bin/airlock", "upgrade", "record", "--data-dir", config.dataDir, "--actor", actor,
                       "--action", action, "--to", to.description]
        if let from { command += ["--from", from.description] }
        for (key, value) in detail.sorted(by: { $0.key < $1.key }) { command += ["--detail", "\(key)=\(value)"] }
        try await run(command, purpose: "record \(action) in the audit log")
    }

    func progress(_ line: String) {
        let stamped = "[\(Self.clock.string(from: Date()))] \(line)\n"
        FileHandle(fileDescriptor: progressToStandardError ? 2 : 1).write(Data(stamped.utf8))
    }

    /// Fault injection for the crash tests (tests/e2e/test_upgrade.py): with
    /// AIRLOCK_UPGRADE_CRASH_AT=<step> the process kills itself with SIGKILL right after that
    /// step is recorded — what a power cut or `kill -9` there would do.
    func reached(_ step: String) {
        if ProcessInfo.processInfo.environment["AIRLOCK_UPGRADE_CRASH_AT"] == step { kill(getpid(), SIGKILL) }
    }

    private static let clock: DateFormatter = {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return formatter
    }()
}

/// The audit rows of upgrades: target type `release`, the target the version moved to.
enum UpgradeAudit {
    static func write(dataDirectory: String, actor: String, action: String, from: String?, to: String, detail: [String: String]) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let after = String(decoding: try encoder.encode(detail.merging(["release": to]) { $1 }), as: UTF8.self)
        let before = from.map { String(decoding: (try? encoder.encode(["release": $0])) ?? Data(), as: UTF8.self) }
        let entry = AuditEntry(timestamp: .now(), actor: actor, action: action, targetType: "release", targetID: to, before: before, after: after)
        _ = try await Store(dataDirectory: dataDirectory, create: false).write { try $0.audit(entry) }
        DataOwner.adoptDatabase(in: dataDirectory)
    }
}
