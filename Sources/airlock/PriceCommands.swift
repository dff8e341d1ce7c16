import AirlockAdmin
import AirlockCore
import ArgumentParser
import Foundation
import TOMLKit

struct PriceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "price", abstract: "The price table: versions that price each ledger row when it is written.",
        discussion: """
            A version starts in the future and after every row already in the ledger, and is in \
            force until the next one starts: a written row is never re-priced. Versions cannot be \
            changed or removed; correct a mistake with a newer version. See docs/OPERATIONS.md \
            "Prices and chargeback".
            """,
        subcommands: [Add.self, List.self, Show.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Add a price version from a TOML or JSON file.",
            discussion: """
                The file: currency = "EUR"; [models."NAME"] input = "0.60", output = "0.80" (per \
                million tokens); optional [zones] NAME = "1.1"; [orgs."ORG"] discount_percent = "15" \
                and [orgs."ORG".models."NAME"]; free_tokens_per_month = 25000 (orgs without reserved \
                capacity); reserved_cu_hour = "0.05". Write amounts as strings to keep them exact.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The table: a .toml or .json file.") var file: String
        @Option(help: "When it starts: an ISO 8601 date or time in the future (2027-01-01 is midnight UTC).") var effective: String

        func run() async throws {
            try await runReportingErrors {
                guard let start = UnixMillis.parseISODate(effective) else {
                    throw AirlockError.invalidArgument("--effective: '\(effective.controlCharactersReplaced.clipped(to: 80))' is not an ISO 8601 date or time")
                }
                let version = try await global.admin().addPriceVersion(try PriceFile.read(file), effectiveFrom: start, by: global.actor)
                global.json ? Output.json(version) : print("added price version \(version.version), in force from \(version.effectiveFrom)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the price versions, oldest first.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runReportingErrors {
                let versions = try await global.admin().priceVersions()
                if global.json { return Output.json(versions) }
                let now = UnixMillis.now()
                let current = versions.last { $0.effectiveFrom <= now }?.version
                Output.table(["VERSION", "FROM", "CURRENCY", "MODELS", "ORGS", "FREE TOKENS/MONTH", ""], versions.map {
                    [String($0.version), $0.effectiveFrom.description, $0.table.currency, String($0.table.models.count),
                     String($0.table.orgs?.count ?? 0), String($0.table.freeTokensPerMonth ?? 0),
                     $0.version == current ? "in force" : ($0.effectiveFrom > now ? "scheduled" : "")]
                })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one price version's table (default: the one in force now).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The version number.") var version: Int64?

        func run() async throws {
            try await runReportingErrors {
                let versions = try await global.admin().priceVersions()
                let now = UnixMillis.now()
                guard let chosen = version.map({ number in versions.first { $0.version == number } })
                    ?? versions.last(where: { $0.effectiveFrom <= now }) ?? versions.last else {
                    throw AirlockError.notFound(kind: "price version", reference: version.map(String.init) ?? "(none yet)")
                }
                if global.json { return Output.json(chosen) }
                print("version \(chosen.version), in force from \(chosen.effectiveFrom), currency \(chosen.table.currency)")
                Output.table(["MODEL", "INPUT/1M", "OUTPUT/1M"], chosen.table.models.sorted { $0.key < $1.key }.map {
                    [$0.key, $0.value.input.description, $0.value.output.description]
                })
                for (zone, multiplier) in (chosen.table.zones ?? [:]).sorted(by: { $0.key < $1.key }) { print("zone \(zone): ×\(multiplier)") }
                for (org, terms) in (chosen.table.orgs ?? [:]).sorted(by: { $0.key < $1.key }) {
                    print("org \(org): discount \(terms.discountPercent?.description ?? "0") %"
                          + (terms.models ?? [:]).sorted { $0.key < $1.key }.map { ", \($0.key) \($0.value.input)/\($0.value.output)" }.joined())
                }
                print("free tokens a month (orgs without reserved capacity): \(chosen.table.freeTokensPerMonth ?? 0)")
                print("reserved capacity, per CU-hour: \(chosen.table.reservedCapacityUnitHour?.description ?? "0")")
            }
        }
    }
}

/// A price table file: TOML (`.toml`) or JSON, read with the same strict rules as the API body.
enum PriceFile {
    static func read(_ path: String) throws -> PriceTableInput {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20 else {
            throw AirlockError.invalidArgument("cannot read \(path) (missing, unreadable or over 1 MiB)")
        }
        guard path.lowercased().hasSuffix(".toml") else { return try PriceTableInput.decode(json: data) }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: String(decoding: data, as: UTF8.self))
        } catch {
            throw AirlockError.invalidArgument("\(path): not valid TOML: \(error)")
        }
        // TOML → JSON → the one strict decoder, so both formats obey exactly the same rules.
        return try PriceTableInput.decode(json: Data(table.convert(to: .json).utf8))
    }
}
