import AirlockAdmin
import AirlockCore
import AirlockStore
import ArgumentParser

/// The level a limits command is about, as typed on the command line.
enum LimitLevel: String, ExpressibleByArgument, CaseIterable {
    case org, env, key

    func target(_ reference: String) -> LimitTarget {
        switch self {
        case .org: return .org(reference)
        case .env: return .env(reference)
        case .key: return .key(reference)
        }
    }
}

struct LimitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits", abstract: "Per-org, per-env and per-key limits (defaults come from airlock.toml).",
        subcommands: [Show.self, Set.self])

    static func show(_ override: LimitOverride, json: Bool) {
        if json { return Output.json(override) }
        Output.fields([("\(override.scope)", override.id)] + LimitChanges.fields.map { field in
            (field.name, override.limits[keyPath: field.value].map(String.init) ?? "default")
        })
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a tenant's overrides ('default' = the airlock.toml value).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "org, env or key.") var level: LimitLevel
        @Argument(help: "Org id or name, env id or ORG/NAME, or key id.") var reference: String

        func run() async throws {
            try await runReportingErrors { LimitsCommand.show(try await global.admin().limits(level.target(reference)), json: global.json) }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a tenant's limits; 'default' goes back to airlock.toml. Applies within 1 s, no restart.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "org, env or key.") var level: LimitLevel
        @Argument(help: "Org id or name, env id or ORG/NAME, or key id.") var reference: String
        @Option(help: "Requests per minute, or 'default'.") var requestsPerMinute: String?
        @Option(help: "Tokens per minute, or 'default'.") var tokensPerMinute: String?
        @Option(help: "Tokens per second, or 'default'.") var tokensPerSecond: String?
        @Option(help: "Concurrent requests, or 'default'.") var concurrency: String?
        @Option(help: "Tokens per day (a quota: 403 when spent), or 'default'.") var tokensPerDay: String?

        func run() async throws {
            try await runReportingErrors {
                var changes = LimitChanges()
                let fields: [(String?, String, WritableKeyPath<LimitChanges, LimitFieldChange>)] = [
                    (requestsPerMinute, "requests-per-minute", \.requestsPerMinute), (tokensPerMinute, "tokens-per-minute", \.tokensPerMinute),
                    (tokensPerSecond, "tokens-per-second", \.tokensPerSecond), (concurrency, "concurrency", \.concurrency),
                    (tokensPerDay, "tokens-per-day", \.tokensPerDay),
                ]
                guard fields.contains(where: { $0.0 != nil }) else {
                    throw AirlockError.invalidArgument("nothing to change: give at least one of --requests-per-minute, --tokens-per-minute, --tokens-per-second, --concurrency, --tokens-per-day")
                }
                for (value, name, field) in fields {
                    if let value { changes[keyPath: field] = try LimitFieldChange.parse(value, field: name) }
                }
                LimitsCommand.show(try await global.admin().setLimits(level.target(reference), changes, by: global.actor), json: global.json)
            }
        }
    }
}

struct ReservationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reservation", abstract: "Reserved capacity: CUs per org and model (1 CU = 1 guaranteed token/s).",
        subcommands: [List.self, Set.self, Clear.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List reservations.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runReportingErrors {
                let reservations = try await global.admin().listReservations()
                if global.json { return Output.json(reservations) }
                Output.table(["ORG", "MODEL", "CU"], reservations.map { [$0.orgID.rawValue, $0.model, String($0.capacityUnits)] })
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reserve capacity units for an org on a model.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Org id or name.") var org: String
        @Argument(help: "Model name.") var model: String
        @Argument(help: "Capacity units (tokens/s).") var capacityUnits: Int

        func run() async throws {
            try await runReportingErrors {
                let reservation = try await global.admin().setReservation(org: org, model: model, capacityUnits: capacityUnits, by: global.actor)
                global.json ? Output.json(reservation) : print("org \(org) reserves \(capacityUnits) CU on \(model)")
            }
        }
    }

    struct Clear: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an org's reservation on a model.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Org id or name.") var org: String
        @Argument(help: "Model name.") var model: String

        func run() async throws {
            try await runReportingErrors {
                _ = try await global.admin().setReservation(org: org, model: model, capacityUnits: nil, by: global.actor)
                print("org \(org) no longer reserves capacity on \(model)")
            }
        }
    }
}
