import AirlockAdmin
import AirlockCore
import ArgumentParser
import Foundation

/// A key as the CLI prints it in JSON: flat, so scripts read `.id` and `.key` directly.
struct KeyOutput: Encodable {
    var id: String
    /// The secret: present only in the output of `create` and `rotate`.
    var key: String?
    var displayPrefix: String?
    var orgId: String
    var envId: String
    var name: String?
    var status: String
    var createdAt: UnixMillis
    var expiresAt: UnixMillis?
    var allowedModels: [String]?
    var credentials: [CredentialSummary]?

    init(_ key: APIKey, secret: String? = nil, displayPrefix: String?, credentials: [CredentialSummary]? = nil) {
        id = key.id.rawValue
        self.key = secret
        self.displayPrefix = displayPrefix
        orgId = key.orgID.rawValue
        envId = key.envID.rawValue
        name = key.name
        status = key.status.rawValue
        createdAt = key.createdAt
        expiresAt = key.expiresAt
        allowedModels = key.allowedModels
        self.credentials = credentials
    }
}

struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "API keys: create, list, rotate, suspend, resume, revoke.",
        subcommands: [Create.self, List.self, Show.self, Suspend.self, Resume.self, Revoke.self, Rotate.self, Identify.self])

    static func show(_ keys: [KeyDetails], json: Bool) {
        if json {
            return Output.json(keys.map { KeyOutput($0.key, displayPrefix: $0.displayPrefix, credentials: $0.credentials) })
        }
        Output.table(["ID", "PREFIX", "NAME", "STATUS", "ENV", "EXPIRES", "MODELS"], keys.map { details in
            let key = details.key
            return [
                key.id.rawValue, (details.displayPrefix ?? "-") + "…", key.name ?? "-", key.status.rawValue,
                key.envID.rawValue, Output.text(key.expiresAt), key.allowedModels?.joined(separator: ",") ?? "*",
            ]
        })
    }

    static func showIssued(_ issued: IssuedKey, verb: String, json: Bool) {
        if json { return Output.json(KeyOutput(issued.key, secret: issued.secret, displayPrefix: issued.displayPrefix)) }
        print("\(verb) key \(issued.key.id) (\(issued.displayPrefix)…)")
        print("")
        print("  \(issued.secret)")
        print("")
        print("This is the only time the key is shown. Store it in your secret manager now.")
    }

    static func showStatus(_ key: APIKey, json: Bool) {
        if json { return Output.json(KeyOutput(key, displayPrefix: nil)) }
        print("key \(key.id) is \(key.status.rawValue)")
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; its secret is printed once.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Org id or name.") var org: String
        @Argument(help: "Environment id or name within the org.") var env: String
        @Option(help: "A name, unique within the environment.") var name: String?
        @Option(help: "Expiry: a duration (90d, 12h, 30m) or a date (2027-01-31, 2027-01-31T12:00:00Z).") var expires: String?
        @Option(help: "Comma-separated models the key may call (default: all).") var models: String?

        func run() async throws {
            try await runReportingErrors {
                let expiresAt = try expires.map { try AdminInput.expiry($0, now: .now()) }
                let allowed = try models.map(AdminInput.modelList)
                let issued = try await global.admin().createKey(
                    org: org, env: env, name: name, expiresAt: expiresAt, allowedModels: allowed, by: global.actor)
                KeyCommand.showIssued(issued, verb: "created", json: global.json)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this org (id or name).") var org: String?
        @Option(help: "Only this environment (id, ORG/NAME, or NAME with --org).") var env: String?

        func run() async throws {
            try await runReportingErrors { KeyCommand.show(try await global.admin().listKeys(org: org, env: env), json: global.json) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one key and its credentials.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Key id (key_…).") var key: String

        func run() async throws {
            try await runReportingErrors {
                let details = try await global.admin().key(key)
                if global.json {
                    return Output.json(KeyOutput(details.key, displayPrefix: details.displayPrefix, credentials: details.credentials))
                }
                let k = details.key
                Output.fields([
                    ("id", k.id.rawValue), ("name", k.name ?? "-"), ("status", k.status.rawValue),
                    ("org", k.orgID.rawValue), ("env", k.envID.rawValue), ("created", k.createdAt.description),
                    ("expires", Output.text(k.expiresAt)), ("models", k.allowedModels?.joined(separator: ",") ?? "*"),
                ])
                for credential in details.credentials {
                    print("credential \(credential.displayPrefix)…  created \(credential.createdAt)  retires \(Output.text(credential.retiresAt))")
                }
            }
        }
    }

    struct Suspend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Suspend a key: 403 until resumed.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Key id (key_…).") var key: String

        func run() async throws {
            try await runReportingErrors { KeyCommand.showStatus(try await global.admin().suspendKey(key, by: global.actor), json: global.json) }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a suspended key.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Key id (key_…).") var key: String

        func run() async throws {
            try await runReportingErrors { KeyCommand.showStatus(try await global.admin().resumeKey(key, by: global.actor), json: global.json) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key for good, including secrets in a rotation grace window.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Key id (key_…).") var key: String

        func run() async throws {
            try await runReportingErrors { KeyCommand.showStatus(try await global.admin().revokeKey(key, by: global.actor), json: global.json) }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a new secret; the old one works until the grace window ends.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Key id (key_…).") var key: String
        @Option(help: "Seconds the previous secret keeps working (default: [keys] rotation_grace_seconds).") var grace: Int?

        func run() async throws {
            try await runReportingErrors {
                let issued = try await global.admin().rotateKey(key, graceSeconds: grace, by: global.actor)
                KeyCommand.showIssued(issued, verb: "rotated", json: global.json)
            }
        }
    }

    struct Identify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find which key a secret belongs to (reads the secret from stdin, never argv).",
            discussion: "For leak response: echo \"$LEAKED\" | airlock key identify")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runReportingErrors {
                guard let line = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces), !line.isEmpty else {
                    throw AirlockError.invalidArgument("no key on standard input")
                }
                let details = try await global.admin().identifyKey(secret: line)
                if global.json {
                    return Output.json(KeyOutput(details.key, displayPrefix: details.displayPrefix, credentials: details.credentials))
                }
                KeyCommand.show([details], json: false)
            }
        }
    }
}
