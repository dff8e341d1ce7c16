import AirlockAdmin
import AirlockCore
import ArgumentParser

struct OrgCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "org", abstract: "Organisations: the top-level tenants.",
        subcommands: [Create.self, List.self, Show.self, Suspend.self, Resume.self, Revoke.self])

    /// One org: a JSON object (not a one-element array) for scripts, a table row for people.
    static func showOne(_ value: Org, json: Bool) {
        json ? Output.json(value) : show([value], json: false)
    }

    static func show(_ orgs: [Org], json: Bool) {
        if json { return Output.json(orgs) }
        Output.table(["ID", "NAME", "STATUS", "CREATED"], orgs.map {
            [$0.id.rawValue, $0.name, $0.status.rawValue, $0.createdAt.description]
        })
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an org.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Unique name: letters, digits, '.', '_', '-'.") var name: String

        func run() async throws {
            try await runReportingErrors {
                let org = try await global.admin().createOrg(name: name, by: global.actor)
                global.json ? Output.json(org) : print("created org \(org.name) (\(org.id))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List orgs.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runReportingErrors { OrgCommand.show(try await global.admin().listOrgs(), json: global.json) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one org.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Org id or name.") var org: String

        func run() async throws {
            try await runReportingErrors { OrgCommand.showOne(try await global.admin().org(org), json: global.json) }
        }
    }

    struct Suspend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Suspend an org: its keys get 403 tenant_suspended until resumed.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Org id or name.") var org: String

        func run() async throws {
            try await runReportingErrors { OrgCommand.showOne(try await global.admin().suspendOrg(org, by: global.actor), json: global.json) }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a suspended org.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Org id or name.") var org: String

        func run() async throws {
            try await runReportingErrors { OrgCommand.showOne(try await global.admin().resumeOrg(org, by: global.actor), json: global.json) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an org for good: none of its keys will work again.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Org id or name.") var org: String

        func run() async throws {
            try await runReportingErrors { OrgCommand.showOne(try await global.admin().revokeOrg(org, by: global.actor), json: global.json) }
        }
    }
}
