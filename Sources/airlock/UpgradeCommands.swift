import AirlockBundles
import AirlockCore
import AirlockLicensing
import AirlockStore
import ArgumentParser
import Foundation

/// `airlock upgrade`: signed release bundles carried in by hand (docs/BUNDLES.md, runbooks in
/// docs/OPERATIONS.md § Upgrades).
struct UpgradeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade", abstract: "Verify, apply and roll back signed release bundles.",
        discussion: """
            Releases live in <prefix>/releases/<version>/ and <prefix>/current points at the one \
            that runs ([upgrade] prefix in airlock.toml, default /opt/airlock). apply verifies the \
            bundle, stages it, snapshots the database, switches current, restarts the daemon, waits \
            for /readyz and a smoke request, and rolls back by itself if any of that fails.
            """,
        subcommands: [Verify.self, Apply.self, Rollback.self, Recover.self, Status.self, History.self, Agents.self, Install.self, Record.self])

    struct Options: ParsableArguments {
        @OptionGroup var global: GlobalOptions
        @Option(help: "Release prefix (default: [upgrade] prefix in airlock.toml).") var prefix: String?

        func upgrader() throws -> Upgrader {
            let config = try global.configuration()
            let keys = try ReleaseKeys.load(extraFiles: config.upgrade.releaseKeyFiles,
                                            licenceKeys: try VendorKeys.load(extraFiles: config.licenseVendorKeyFiles))
            let host = CommandLineUpgradeHost(config: config, actor: global.actor.name, progressToStandardError: global.json)
            return Upgrader(prefix: ReleasePrefix(prefix ?? config.upgrade.prefix), dataDirectory: config.dataDir,
                            settings: config.upgrade, keys: keys, host: host)
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a bundle's signature, every file's hash and the version policy; changes nothing.")
        @OptionGroup var options: Options
        @Argument(help: "The bundle file.") var file: String

        func run() async throws {
            try await runReportingErrors {
                let upgrader = try options.upgrader()
                let bundle = try upgrader.verify(file)
                let manifest = bundle.manifest
                if options.global.json { return Output.json(manifest) }
                let installed = try upgrader.prefix.currentVersion().map(\.description) ?? "nothing"
                print("bundle OK: release \(manifest.version) (upgrades from \(manifest.minimumFromVersion) or later; installed: \(installed)), "
                      + "\(manifest.files.count) files, signed by release key \(bundle.envelope.keyID)"
                      + (manifest.allowDowngrade ? "; signed as a downgrade" : ""))
            }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Upgrade to a bundle's release, rolling back by itself if any step fails.")
        @OptionGroup var options: Options
        @Argument(help: "The bundle file.") var file: String

        func run() async throws {
            try await runReportingErrors {
                let upgrader = try options.upgrader()
                switch try await upgrader.apply(file) {
                case let .upgraded(from, to):
                    print("upgraded \(from) → \(to)")
                    for difference in upgrader.unitDifferences() { print(difference.advice(release: to.description)) }
                case let .rolledBack(from, to, reason):
                    throw CLIFailure(message: "the upgrade to \(to) failed and was rolled back; \(from) is running. Cause: \(reason)")
                }
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Go back to an earlier installed release (default: the newest one older than current).",
            discussion: "When the current release ran schema migrations, the database snapshot taken before the upgrade is put back and the usage and audit rows written since are appended again.")
        @OptionGroup var options: Options
        @Option(help: "The release to go back to.") var to: String?

        func run() async throws {
            try await runReportingErrors {
                let target = try to.map { text -> ReleaseVersion in
                    guard let version = ReleaseVersion(text) else { throw CLIFailure(message: "'\(text.clipped())' is not a release version (MAJOR.MINOR.PATCH)") }
                    return version
                }
                print("rolled back to \(try await options.upgrader().rollback(to: target))")
            }
        }
    }

    struct Recover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Finish an upgrade or rollback that was interrupted (crash, power cut).")
        @OptionGroup var options: Options

        func run() async throws {
            try await runReportingErrors {
                print(try await options.upgrader().recover() ?? "nothing to recover: no upgrade was interrupted")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The current release, the installed ones, and any interrupted upgrade.")
        @OptionGroup var options: Options

        func run() async throws {
            try await runReportingErrors {
                let upgrader = try options.upgrader()
                let state = UpgradeState(current: try upgrader.prefix.currentVersion()?.description,
                                         installed: upgrader.prefix.installedVersions().map(\.description),
                                         interrupted: try upgrader.interrupted(), prefix: upgrader.prefix.root,
                                         unitsDiffering: upgrader.unitDifferences())
                if options.global.json { return Output.json(state) }
                print("prefix \(state.prefix): current \(state.current ?? "none"); installed \(state.installed.isEmpty ? "none" : state.installed.joined(separator: ", "))")
                if let interrupted = state.interrupted { print("INTERRUPTED: \(interrupted); run `airlock upgrade recover`") }
                for difference in state.unitsDiffering { print(difference.advice(release: state.current ?? "current")) }
            }
        }

        struct UpgradeState: Encodable {
            var current: String?
            var installed: [String]
            var interrupted: String?
            var prefix: String
            /// Installed systemd units that differ from the ones the current release ships.
            var unitsDiffering: [ReleaseUnits.Difference]
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Upgrades and rollbacks, newest first, from the audit log.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "At most this many rows.") var limit = 50

        func run() async throws {
            try await runReportingErrors {
                let rows = try await global.ledgerAudit().auditPage(beforeSeq: nil, limit: max(1, min(limit, 1_000)), actionPrefix: "upgrade.", actor: nil)
                if global.json { return Output.json(rows) }
                if rows.isEmpty { return print("no upgrades recorded") }
                for row in rows {
                    let entry = row.entry
                    print("\(entry.timestamp)  \(entry.action.padding(toLength: 17, withPad: " ", startingAt: 0)) "
                          + "\(entry.before.map { "\($0) → " } ?? "")\(entry.after ?? entry.targetID)  by \(entry.actor)")
                }
            }
        }
    }

    struct Agents: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Roll the running release's agent out to the connected GPU nodes, one at a time.",
            discussion: "Each agent checks the release's signature and the binary's hash with its own trusted release keys, drains, restarts on the new release and registers again; the roll-out stops at the first node that fails. Needs the daemon running from a release folder.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Start it and return; follow it with --status.") var noWait = false
        @Flag(help: "Show where the running or last roll-out stands.") var status = false

        func run() async throws {
            try await runReportingErrors {
                guard let daemon = await DaemonAdmin.connect(dataDirectory: try global.configuration().dataDir, actor: global.actor) else {
                    throw CLIFailure(message: "airlockd is not running: agents are reached through it")
                }
                var rollout: AgentRolloutStatus = status ? try await daemon.call(.GET, "/admin/v1/upgrades/agents")
                    : try await daemon.call(.POST, "/admin/v1/upgrades/agents", [:])
                var shown: [String: AgentRolloutStatus.NodeStep.State] = [:]
                while true {
                    if !global.json {
                        for node in rollout.nodes where shown[node.nodeID] != node.state {
                            shown[node.nodeID] = node.state
                            print("\(node.nodeName): \(node.state.rawValue)" + (node.message.map { " — \($0)" } ?? ""))
                        }
                    }
                    if rollout.state != .running || noWait || status { break }
                    try await Task.sleep(for: .seconds(1))
                    rollout = try await daemon.call(.GET, "/admin/v1/upgrades/agents")
                }
                if global.json { Output.json(rollout) } else { print("roll-out of \(rollout.release): \(rollout.state.rawValue)") }
                if rollout.state == .failed { throw CLIFailure(message: "the agent roll-out stopped at a node that failed; the nodes after it were not touched") }
            }
        }
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "First install: put a bundle's release in an empty prefix and point current at it.",
            discussion: "Used by appliance/install.sh; later releases go through `airlock upgrade apply`.")
        @OptionGroup var options: Options
        @Argument(help: "The bundle file.") var file: String

        func run() async throws {
            try await runReportingErrors {
                print("installed \(try options.upgrader().install(file))")
            }
        }
    }

    /// Appends an `upgrade.*` audit row; run by an older `airlock` through this (newer) one when
    /// the database's schema is newer than it knows.
    struct Record: AsyncParsableCommand {
        static let configuration = CommandConfiguration(shouldDisplay: false)
        @OptionGroup var global: GlobalOptions
        @Option var actor: String
        @Option var action: String
        @Option var from: String?
        @Option var to: String
        @Option var detail: [String] = []

        func run() async throws {
            try await runReportingErrors {
                guard action.hasPrefix("upgrade."), ReleaseVersion(to) != nil, from.map({ ReleaseVersion($0) != nil }) ?? true else {
                    throw CLIFailure(message: "record takes an upgrade.* action and release versions")
                }
                var details: [String: String] = [:]
                for pair in detail {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    details[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
                }
                try await UpgradeAudit.write(dataDirectory: try global.configuration().dataDir, actor: actor, action: action,
                                             from: from, to: to, detail: details)
            }
        }
    }
}

extension Upgrader {
    /// The installed units that differ from the current release's (`[upgrade] unit_directory`).
    func unitDifferences() -> [ReleaseUnits.Difference] {
        ReleaseUnits.differences(prefix, unitDirectory: settings.unitDirectory)
    }
}

extension ReleaseUnits.Difference {
    /// One line for an operator: which unit, and the commands that install release `release`'s.
    func advice(release: String) -> String {
        "unit \(unit): the installed \(installed) differs from the one release \(release) ships; it takes effect once installed: \(commands)"
    }
}
