import AirlockAgent
import AirlockCore
import AirlockLicensing
import AirlockReleases
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

/// `airlock-agent`: runs on each GPU host. `enroll` once with the operator's token, then `run`
/// (under systemd) to register the host and its engine with the appliance over mutual TLS.
@main
struct AirlockAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "airlock-agent", abstract: "Airlock's node agent for a GPU host.",
        subcommands: [Enroll.self, Run.self, Maintenance.self, InstallStaged.self])
}

struct StateOptions: ParsableArguments {
    @Option(help: "Where the node's key, certificate and identity live (0700).")
    var stateDir = "/var/lib/airlock-agent"
}

struct ReleaseKeyOptions: ParsableArguments {
    @Option(help: "A development release key file (trusted-keys lines), beside the built-in production keys (repeatable).")
    var releaseKeyFile: [String] = []

    func keys() throws -> ReleaseKeys {
        do {
            return try ReleaseKeys.load(extraFiles: releaseKeyFile, licenceKeys: try VendorKeys.load(extraFiles: []))
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// `ExecStartPre=+` of the unit (as root): installs an agent release the running agent received
/// and staged, after checking it again, so that the next start runs it.
struct InstallStaged: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install-staged",
        abstract: "Install an agent release staged by the running agent (the unit runs this as root before each start).")
    @OptionGroup var state: StateOptions
    @OptionGroup var releaseKeys: ReleaseKeyOptions
    @Option(help: "The release prefix holding releases/ and current.") var prefix = "/opt/airlock"

    func run() throws {
        do {
            if let version = try AgentUpgradeStage.install(AgentState(directory: state.stateDir), prefix: prefix, keys: try releaseKeys.keys()) {
                print("installed agent release \(version); current -> releases/\(version)")
            }
        } catch let error as AgentError {
            // The agent still starts, on the release it had, and reports the failure.
            FileHandle.standardError.write(Data("airlock-agent install-staged: \(error.description)\n".utf8))
        }
    }
}

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enrol this host with the one-time token from `airlock node enroll` (its key never leaves this host).")
    @OptionGroup var state: StateOptions
    @Option(help: "The appliance's HTTPS address, e.g. https://airlock.example:8443.") var appliance: String
    @Option(help: "PEM file to trust for the appliance's HTTPS certificate (its tls/ca.crt, or the customer's CA).")
    var applianceCA: String
    @Option(help: "The one-time enrolment token.") var token: String

    func run() async throws {
        do {
            let identity = try await AgentEnrolment.enroll(appliance: appliance, applianceCA: applianceCA, token: token,
                                                          state: AgentState(directory: state.stateDir))
            print("enrolled as node \(identity.nodeName) (\(identity.nodeID)); state in \(state.stateDir)")
        } catch let error as AgentError {
            throw ValidationError(error.description)
        }
    }
}

struct Maintenance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Announce this host's maintenance (the node is drained) or end it (work resumes).",
        subcommands: [Start.self, End.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drain this node for maintenance; the running agent tells the appliance within a second.")
        @OptionGroup var state: StateOptions
        @Option(help: "Why, one line (shown in the appliance's log).") var reason: String
        @Option(help: "Seconds until the host goes away (told to the appliance).") var inSeconds: UInt32 = 0

        func run() throws {
            let startsAt = Int64(Date().timeIntervalSince1970) + Int64(inSeconds)
            do {
                try MaintenanceNotice.announce(MaintenanceNotice(reason: reason, startsAt: startsAt),
                                               in: AgentState(directory: state.stateDir))
            } catch let error as AgentError {
                throw ValidationError(error.description)
            }
            print("maintenance announced; the node takes no new work once the agent has told the appliance")
        }
    }

    struct End: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End the maintenance: the node takes work again.")
        @OptionGroup var state: StateOptions

        func run() throws {
            let ended = try MaintenanceNotice.end(in: AgentState(directory: state.stateDir))
            print(ended ? "maintenance ended" : "no maintenance was announced")
        }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register with the appliance and keep the node's heartbeat, metrics and engine going.")
    @OptionGroup var state: StateOptions
    @Option(help: "The appliance's node port, host:port (9443).") var control: String
    @Option(help: "Where the appliance reaches this host's engine, http(s)://host:port.") var engineURL: String
    @Option(help: "A model the engine serves (repeat for several).") var model: [String]
    @Option(help: "The engine's sustainable generation rate, tokens/s.") var capacity: UInt64 = 1_000
    @Option(help: "This host's zone (must match the node's enrolment if it named one).") var zone = ""
    @Option(help: "Seconds in-flight requests get to finish when the node drains (SIGTERM, engine reload).") var drainSeconds = 10
    @Option(help: "Start and supervise the engine: the command line, split on spaces.") var engineCommand: String?
    @OptionGroup var releaseKeys: ReleaseKeyOptions

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "airlock-agent")
        // The same rules the appliance applies: a bad value is refused here, at start, not by the
        // control plane at every registration attempt.
        let controlAddress: ListenAddress
        switch ListenAddress.parse(control) {
        case let .success(address): controlAddress = address
        case let .failure(reason): throw ValidationError("--control: \(reason)")
        }
        guard let engineURL = EngineConfig.engineURL(engineURL) else {
            throw ValidationError("--engine-url must be http(s)://host:port with no path, got '\(engineURL)'")
        }
        let stateDirectory = AgentState(directory: state.stateDir)
        guard stateDirectory.isEnrolled else { throw ValidationError("\(state.stateDir) holds no enrolment; run `airlock-agent enroll` first") }
        var supervisor: EngineSupervisor?
        if let engineCommand {
            let words = engineCommand.split(separator: " ").map(String.init)
            guard let executable = words.first else { throw ValidationError("--engine-command is empty") }
            supervisor = EngineSupervisor(executable: executable, arguments: Array(words.dropFirst()), logger: logger)
        }
        var settings = AgentSettings(state: stateDirectory, controlHost: controlAddress.host, controlPort: controlAddress.port, engineURL: engineURL,
                                     models: model, capacityTokensPerSecond: capacity, zone: zone)
        settings.engine = supervisor
        settings.drain = .seconds(drainSeconds)
        settings.releaseKeys = try releaseKeys.keys()
        let session = AgentSession(settings: settings, logger: logger)
        let agent = AgentService(session: session, logger: logger)
        try await ServiceGroup(services: [agent], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
    }
}

/// The agent as a lifecycle service: runs the control stream (and the engine, if supervised)
/// until SIGTERM/SIGINT, then tells the appliance it is leaving — the node drains — keeps
/// heartbeating until the engine is idle (at most `--drain-seconds`), and stops.
struct AgentService: Service {
    let session: AgentSession
    let logger: Logger

    func run() async throws {
        let settings = session.settings
        await settings.engine?.start()
        let running = Task { await session.run() }
        try? await gracefulShutdown()
        logger.notice("stopping: draining first", metadata: ["at_most_seconds": "\(settings.drain.components.seconds)"])
        session.shuttingDown(reason: "agent stopping")
        await session.waitUntilEngineIdle(within: settings.drain)
        running.cancel()
        await running.value
        await settings.engine?.stop()
        logger.notice("stopped")
    }
}
