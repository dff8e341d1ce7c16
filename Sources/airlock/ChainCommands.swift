import AirlockAdmin
import AirlockCore
import AirlockStore
import ArgumentParser

/// Prints a chain report and fails (exit 1) when the chain is broken.
func reportChain(_ report: ChainReport, json: Bool) throws {
    if json {
        Output.json(report)
    } else if let broken = report.firstBreak {
        print("\(report.chain): BROKEN at seq \(broken.seq) (\(broken.kind.rawValue)): \(broken.detail)")
        print("\(report.rowsChecked) rows verified before it.")
    } else if let head = report.verifiedHead {
        print("\(report.chain): OK, \(report.rowsChecked) rows, head seq \(head.seq) hash \(head.hash)")
    } else {
        print("\(report.chain): OK, empty")
    }
    if !report.isIntact { throw ExitCode(1) }
}

struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "The hash-chained usage ledger.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every hash; name the first changed, missing or reordered row.",
            discussion: "Exit status 0 when intact, 1 when broken. Keep the printed head hash: a later verify proves the rows up to it are unchanged.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runReportingErrors { try reportChain(try await global.ledgerAudit().verifyLedger(), json: global.json) }
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The hash-chained audit log of admin actions.", subcommands: [List.self, Verify.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show recent admin actions, oldest first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only actions on this id (org_…, env_…, key_…).") var target: String?
        @Option(help: "How many of the newest rows to show.") var limit = 50

        func run() async throws {
            try await runReportingErrors {
                guard (1...100_000).contains(limit) else { throw AirlockError.invalidArgument("--limit must be 1...100000") }
                let entries = try await global.ledgerAudit().auditTrail(targetID: target, limit: limit)
                if global.json { return Output.json(entries) }
                Output.table(["TIME", "ACTOR", "ACTION", "TARGET"], entries.map {
                    [$0.timestamp.description, $0.actor, $0.action, $0.targetID]
                })
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recompute every hash of the audit log; name the first bad row.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runReportingErrors { try reportChain(try await global.ledgerAudit().verifyAuditLog(), json: global.json) }
        }
    }
}
