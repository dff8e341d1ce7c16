import AirlockAdmin
import AirlockCore
import ArgumentParser

struct EnvCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env", abstract: "Environments (dev, staging, prod, …) inside an org.",
        subcommands: [Create.self, List.self, Show.self, SetZone.self, Suspend.self, Resume.self, Revoke.self])

    /// One environment: a JSON object (not a one-element array) for scripts, a table row for people.
    static func showOne(_ value: Environment, json: Bool) {
        json ? Output.json(value) : show([value], json: false)
    }

    static func show(_ envs: [Environment], json: Bool) {
        if json { return Output.json(envs) }
        Output.table(["ID", "ORG", "NAME", "STATUS", "ZONE", "CREATED"], envs.map {
            [$0.id.rawValue, $0.orgID.rawValue, $0.name, $0.status.rawValue, $0.zone ?? "-", $0.createdAt.description]
        })
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an environment in an org.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Org id or name.") var org: String
        @Argument(help: "Name, unique within the org.") var name: String
        @Option(help: "Zone its requests are placed in first (default: the appliance's home zone, gateway.zone).") var zone: String?

        func run() async throws {
            try await runReportingErrors {
                let env = try await global.admin().createEnvironment(org: org, name: name, zone: zone, by: global.actor)
                global.json ? Output.json(env) : print("created env \(env.name) (\(env.id)) in org \(env.orgID)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List environments.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this org (id or name).") var org: String?

        func run() async throws {
            try await runReportingErrors { EnvCommand.show(try await global.admin().listEnvironments(org: org), json: global.json) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one environment.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Environment id, or ORG/NAME.") var env: String

        func run() async throws {
            try await runReportingErrors { EnvCommand.showOne(try await global.admin().environment(env), json: global.json) }
        }
    }

    struct SetZone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-zone",
            abstract: "Place an environment's requests in a zone first (then [scheduler] fallback_zones).",
            discussion: "Give --home instead of a zone to return to the appliance's home zone (gateway.zone).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Environment id, or ORG/NAME.") var env: String
        @Argument(help: "Zone name.") var zone: String?
        @Flag(help: "Back to the appliance's home zone.") var home = false

        func validate() throws {
            guard (zone == nil) != !home else { throw ValidationError("give a zone or --home, not both and not neither") }
        }

        func run() async throws {
            try await runReportingErrors {
                let env = try await global.admin().setEnvironmentZone(env, zone: home ? nil : zone, by: global.actor)
                global.json ? Output.json(env) : print("env \(env.name) (\(env.id)) now places requests in zone \(env.zone ?? "of the appliance (home)") first")
            }
        }
    }

    struct Suspend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Suspend an environment: its keys get 403 until resumed.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Environment id, or ORG/NAME.") var env: String

        func run() async throws {
            try await runReportingErrors { EnvCommand.showOne(try await global.admin().suspendEnvironment(env, by: global.actor), json: global.json) }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a suspended environment.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Environment id, or ORG/NAME.") var env: String

        func run() async throws {
            try await runReportingErrors { EnvCommand.showOne(try await global.admin().resumeEnvironment(env, by: global.actor), json: global.json) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an environment for good.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Environment id, or ORG/NAME.") var env: String

        func run() async throws {
            try await runReportingErrors { EnvCommand.showOne(try await global.admin().revokeEnvironment(env, by: global.actor), json: global.json) }
        }
    }
}
