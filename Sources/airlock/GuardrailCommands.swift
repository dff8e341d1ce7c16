import AirlockAdmin
import AirlockCore
import ArgumentParser

struct GuardrailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guardrail", abstract: "Per-org monthly spend and token caps.",
        discussion: """
            At 80 % of a cap the org gets a warning (audit row, dashboard banner, the \
            x-airlock-budget-warning response header); at 100 % its serverless requests (models it \
            holds no reserved capacity for) are refused with 403 quota_exceeded, or, with \
            --warn-only, still served with the warning. Months are calendar months, UTC.
            """,
        subcommands: [Set.self, Clear.self, List.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an org's monthly caps (either or both).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The org (name or id).") var org: String
        @Option(help: "Spend cap a month, in the price table's currency (e.g. 2500.00).") var monthlySpend: String?
        @Option(help: "Token cap a month.") var monthlyTokens: Int64?
        @Flag(help: "Past the cap, warn only; do not refuse.") var warnOnly = false

        func run() async throws {
            try await runReportingErrors {
                guard monthlySpend != nil || monthlyTokens != nil else {
                    throw AirlockError.invalidArgument("give --monthly-spend, --monthly-tokens or both (airlock guardrail clear removes one)")
                }
                let spend = try monthlySpend.map { text -> Decimal6 in
                    guard let micros = Micros.parse(text) else {
                        throw AirlockError.invalidArgument("--monthly-spend: '\(text.controlCharactersReplaced.clipped(to: 40))' is not a decimal such as 2500.00")
                    }
                    return Decimal6(micros: micros)
                }
                let guardrail = try await global.admin().setGuardrail(org: org, monthlySpend: spend, monthlyTokens: monthlyTokens,
                                                                      onExceed: warnOnly ? .warn : .refuse, by: global.actor)
                if global.json { return Output.json(guardrail) }
                print("guardrail set for \(org): \(guardrail?.capsDescription ?? "-"), past the cap: \(warnOnly ? "warn" : "refuse")")
            }
        }
    }

    struct Clear: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an org's caps.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The org (name or id).") var org: String

        func run() async throws {
            try await runReportingErrors {
                _ = try await global.admin().setGuardrail(org: org, monthlySpend: nil, monthlyTokens: nil, onExceed: .refuse, by: global.actor)
                struct Cleared: Encodable { var org: String, cleared = true }
                global.json ? Output.json(Cleared(org: org)) : print("guardrail cleared for \(org)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Orgs with caps, and where each stands this month.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runReportingErrors {
                let budgets = try await global.admin().budgets()
                if global.json { return Output.json(budgets) }
                Output.table(["ORG", "CAPS", "PAST CAP", "TOKENS", "SPEND", "USED", "STATE"], budgets.map {
                    [$0.orgName, $0.guardrail.capsDescription, $0.guardrail.onExceed.rawValue, "\($0.tokens)",
                     Micros.format($0.costMicros, places: 2), "\($0.percentUsed)%", $0.level.rawValue]
                })
            }
        }
    }
}
