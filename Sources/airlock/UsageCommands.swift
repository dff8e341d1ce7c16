import AirlockAdmin
import AirlockCore
import ArgumentParser

struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage", abstract: "Chargeback and FinOps reports from the usage ledger.", subcommands: [Report.self, FinOps.self])

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Requests, tokens and cost over a period, grouped; reserved-capacity charges beside them.",
            discussion: """
                Read from the database (the daemon may be running). The report names the ledger head \
                it was read at and the rows it covers, so an auditor can re-derive every figure from \
                the rows with seq <= head and from <= ts < to. Days are UTC.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Start (ISO 8601; default: the first of this month, UTC).") var from: String?
        @Option(help: "End, exclusive (ISO 8601; default: now). Not in the future.") var to: String?
        @Option(help: "Group by any of org, env, key, model, zone, day, comma-separated (empty: totals).") var by = "org,model"
        @Option(help: "Only this org (name or id).") var org: String?
        @Option(help: "table, csv or json.") var format = "table"

        func run() async throws {
            try await runReportingErrors {
                var query = ["group_by": by, "format": format == "csv" ? "csv" : "json"]
                query["from"] = from
                query["to"] = to
                guard ["table", "csv", "json"].contains(format) else { throw AirlockError.invalidArgument("--format must be table, csv or json") }
                let admin = try await global.localAdmin()
                let period = try ReportQuery(query: query, principal: AdminPrincipal(actor: global.actor, role: .admin), now: .now())
                let report = try await admin.chargebackReport(from: period.from, to: period.to, groupBy: period.groupBy, org: org)
                switch global.json ? "json" : format {
                case "json": Output.json(report)
                case "csv": print(ReportCSV.render(report), terminator: "")
                default: ReportTable.print(report)
                }
            }
        }
    }
}

extension UsageCommand {
    struct FinOps: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "finops", abstract: "Node running costs and utilisation; cost per million tokens and margin by model.",
            discussion: "Node costs come from the price table's node_hour_cost (by node name, prefix* or default).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Start (ISO 8601; default: the first of this month, UTC).") var from: String?
        @Option(help: "End, exclusive (ISO 8601; default: now).") var to: String?

        func run() async throws {
            try await runReportingErrors {
                var query: [String: String] = [:]
                query["from"] = from
                query["to"] = to
                let period = try ReportQuery(query: query, principal: AdminPrincipal(actor: global.actor, role: .admin), now: .now())
                let report = try await global.localAdmin().finOpsReport(from: period.from, to: period.to)
                if global.json { return Output.json(report) }
                Output.fields([("period", "\(report.from) – \(report.to)"), ("currency", report.currency ?? "(no prices)")])
                print("")
                Output.table(["NODE", "HOURS", "COST", "REQUESTS", "TOKENS/S", "AVG IN FLIGHT"], report.nodes.map {
                    [$0.node, Micros.format(Micros.hours(fromMillis: $0.heldMillis), places: 1), Micros.format($0.costMicros, places: 2), "\($0.requests)",
                     String(format: "%.1f", $0.tokensPerSecond), String(format: "%.2f", $0.averageInFlight)]
                })
                print("")
                Output.table(["MODEL", "TOKENS", "COST", "COST/1M", "CHARGED", "MARGIN"], report.models.map {
                    [$0.model, "\($0.tokens)", Micros.format($0.costMicros, places: 2), $0.costPerMillionMicros.map { Micros.format($0, places: 4) } ?? "-",
                     Micros.format($0.chargedMicros, places: 2), Micros.format($0.marginMicros, places: 2)]
                })
            }
        }
    }
}

/// A report for people: the period and chain position, the lines, the reservation charges.
enum ReportTable {
    static func print(_ report: ChargebackReport) {
        let currency = report.currency ?? "(no prices)"
        Output.fields([
            ("period", "\(report.from) – \(report.to)"),
            ("ledger", "\(report.rows) rows" + (report.firstSeq.map { ", seq \($0)–\(report.lastSeq ?? $0)" } ?? "")
                + "; head \(report.headSeq) \(report.headHash)"),
            ("currency", currency),
        ])
        Swift.print("")
        let dimensions = report.groupBy
        let header = dimensions.map { $0.rawValue.uppercased() } + ["REQUESTS", "PROMPT", "COMPLETION", "TOTAL TOKENS", "COST"]
        var rows = report.lines.map { line in
            dimensions.map { line.label($0).controlCharactersReplaced.clipped(to: 60) }
                + ["\(line.requests)", "\(line.promptTokens)", "\(line.completionTokens)", "\(line.totalTokens)",
                   Micros.format(line.costMicros, places: 2)]
        }
        let totals = report.totals
        rows.append(dimensions.enumerated().map { $0.offset == 0 ? "TOTAL" : "" }
            + ["\(totals.requests)", "\(totals.promptTokens)", "\(totals.completionTokens)", "\(totals.totalTokens)",
               Micros.format(totals.costMicros, places: 2)])
        Output.table(header, rows)
        guard !report.reservations.isEmpty else { return }
        Swift.print("")
        Output.table(["RESERVED: ORG", "MODEL", "CU-HOURS", "COST"], report.reservations.map {
            [$0.orgName.isEmpty ? $0.orgID : $0.orgName, $0.model, Micros.format(Micros.hours(fromMillis: $0.capacityUnitMillis), places: 2),
             Micros.format($0.costMicros, places: 2)]
        })
    }
}
