import AirlockAdmin
import AirlockCore
import ArgumentParser
import Foundation

/// `airlock user`: local dashboard / admin-API users. The first admin of an appliance is made
/// here, on the box (`airlock user create NAME --role admin`); later users can also be made by
/// an admin in the dashboard.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Dashboard and admin-API users: create, list, roles, passwords, disable.",
        discussion: """
            Roles: admin (everything), operator (nodes, models, upgrades; reads the rest), auditor \
            (reads everything, audit and ledger exports; changes nothing), viewer (reads tenants, nodes, \
            usage), org-admin (one org's environments, keys and usage; needs --org). Passwords are read \
            from the terminal without echo, or from standard input when it is not a terminal (one line).
            """,
        subcommands: [Create.self, List.self, SetRole.self, SetPassword.self, Disable.self, Enable.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user (asks for the password).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The user's name (1-63 letters, digits, '.', '_', '-').") var name: String
        @Option(help: "admin, operator, auditor, viewer or org-admin.") var role: String
        @Option(help: "The org an org-admin administers (name or id).") var org: String?

        func run() async throws {
            try await runReportingErrors {
                let role = try parseRole(role)
                let password = try readPassword(confirm: true)
                let user = try await global.admin().createUser(name: name, role: role, org: org, password: password, by: global.actor)
                global.json ? Output.json(user) : print("created user \(user.name) (\(user.role.rawValue))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runReportingErrors {
                let users = try await global.admin().listUsers()
                if global.json { return Output.json(users) }
                Output.table(["NAME", "ROLE", "ORG", "STATUS", "LOCKED UNTIL"], users.map {
                    [$0.name, $0.role.rawValue, $0.orgID?.rawValue ?? "-", $0.status.rawValue, $0.lockedUntil?.description ?? "-"]
                })
            }
        }
    }

    struct SetRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-role", abstract: "Change a user's role.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String
        @Option var role: String
        @Option var org: String?

        func run() async throws {
            try await runReportingErrors {
                let user = try await global.admin().setUserRole(name, role: try parseRole(role), org: org, by: global.actor)
                global.json ? Output.json(user) : print("user \(user.name) is now \(user.role.rawValue); their sessions end at their next request")
            }
        }
    }

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-password", abstract: "Set a user's password (also lifts a lockout).")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws {
            try await runReportingErrors {
                let user = try await global.admin().setUserPassword(name, password: try readPassword(confirm: true), by: global.actor)
                global.json ? Output.json(user) : print("set a new password for \(user.name)")
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a user from signing in (reversible).")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws { try await UserCommand.setStatus(name, .disabled, global: global) }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a disabled user sign in again.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws { try await UserCommand.setStatus(name, .active, global: global) }
    }
}

extension UserCommand {
    static func setStatus(_ name: String, _ status: AdminUserStatus, global: GlobalOptions) async throws {
        try await runReportingErrors {
            let user = try await global.admin().setUserStatus(name, status, by: global.actor)
            global.json ? Output.json(user) : print("\(status == .active ? "enabled" : "disabled") user \(user.name)")
        }
    }
}

private func parseRole(_ text: String) throws -> AdminRole {
    guard let role = AdminRole(rawValue: text) else {
        throw AirlockError.invalidArgument("--role must be one of \(AdminRole.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return role
}

/// A password from the terminal (not echoed, asked twice) or one line of standard input.
func readPassword(confirm: Bool, prompt: String = "Password: ") throws -> String {
    guard isatty(STDIN_FILENO) == 1 else {
        guard let line = readLine(strippingNewline: true) else { throw AirlockError.invalidArgument("nothing on standard input") }
        return line
    }
    guard let first = getpass(prompt).map({ String(cString: $0) }) else { throw AirlockError.invalidArgument("nothing given") }
    if confirm {
        guard let second = getpass("Again: ").map({ String(cString: $0) }), second == first else {
            throw AirlockError.invalidArgument("the two entries differ")
        }
    }
    return first
}
