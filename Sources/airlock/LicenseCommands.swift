import AirlockAdmin
import AirlockLicensing
import ArgumentParser
import Foundation

struct LicenseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "license", abstract: "The appliance's licence: offline activation and status.",
        discussion: "Activation crosses the air gap as files: request → vendor → activate (docs/OPERATIONS.md § Licence).",
        subcommands: [Status.self, Request.self, Activate.self, Report.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the licence state, entitlements and days left.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await runReportingErrors {
                let state = try global.licenseState()
                let status = try await global.localAdmin().currentLicenseStatus(
                    state, tolerance: Int64(try global.configuration().licenseClockToleranceSeconds), by: global.actor)
                if global.json { return Output.json(status) }
                let entitlements = status.entitlements
                print("state: \(status.state.rawValue)" + (status.daysLeft.map { " (\($0) days left)" } ?? ""))
                if let id = status.licenseID { print("licence: \(id) for \(status.customer ?? "-")") }
                if let problem = status.problem { print("problem: \(problem)") }
                if let behind = status.clockBehindSeconds {
                    print("warning: the clock is \(behind) s behind the latest time this appliance recorded; judged at that time (audited)")
                }
                print("appliance: \(state.identityFingerprint)")
                print("entitlements: \(entitlements.maxGPUs) GPUs, \(entitlements.maxNodes) nodes, \(entitlements.maxOrgs) orgs, "
                      + "\(entitlements.reservedCapacityUnits) reserved CUs, features: "
                      + (entitlements.features.isEmpty ? "none" : entitlements.features.map(\.rawValue).joined(separator: ", ")))
            }
        }
    }

    struct Request: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a licence file and write the activation request to carry to the vendor.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "The licence file from the vendor.") var license: String
        @Option(help: "Where to write the activation request.") var out: String

        func run() async throws {
            try await runReportingErrors {
                let request = try await global.localAdmin().requestLicenseActivation(
                    try global.licenseState(), licenseFile: license, output: out, by: global.actor)
                global.json ? Output.json(request)
                    : print("wrote \(out): carry it to the vendor; licence \(request.licenseID), appliance \(request.applianceFingerprint)")
            }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Install the vendor's activation for the pending request.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The activation file from the vendor.") var activation: String

        func run() async throws {
            try await runReportingErrors {
                let status = try await global.localAdmin().activateLicense(try global.licenseState(), activationFile: activation, by: global.actor)
                global.json ? Output.json(status)
                    : print("licence \(status.licenseID ?? "-") activated: \(status.state.rawValue)" + (status.daysLeft.map { ", \($0) days left" } ?? ""))
            }
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the month's signed usage report (per org and model, with the ledger head) for the vendor.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "The month, YYYY-MM (UTC).") var period: String
        @Option(help: "Where to write the report.") var out: String

        func run() async throws {
            try await runReportingErrors {
                let report = try await global.localAdmin().writeUsageReport(try global.licenseState(), period: period, output: out, by: global.actor)
                if global.json { return Output.json(report) }
                let usage = report.usage
                print("wrote \(out): \(report.period), \(usage.rows) requests, \(usage.lines.reduce(0) { $0 + $1.totalTokens }) tokens; "
                      + "ledger head seq \(usage.headSeq) hash \(usage.headHash.prefix(16))…")
            }
        }
    }
}
