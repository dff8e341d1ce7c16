import AirlockCore
import AirlockLicensing
import ArgumentParser
import Crypto
import Foundation

/// `airlock-vendor`: the vendor's tool. It holds the signing keys, issues licences, answers
/// appliances' activation requests and builds signed release bundles — all as files carried
/// across the air gap. It never ships on an appliance.
@main
struct AirlockVendor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "airlock-vendor", abstract: "Issue Airlock licences, activate appliances and build release bundles (vendor side).",
        subcommands: [Keygen.self, Issue.self, Activate.self, VerifyReport.self, BundleCommand.self])
}

/// The vendor signing key `keygen` wrote.
func loadSigningKey(_ path: String) throws -> Curve25519.Signing.PrivateKey {
    try PrivateKeyFile.read(path, what: "airlock-vendor signing key")
}

/// `2027-01-31` (midnight UTC) or `2027-01-31T12:00:00Z`, as Unix seconds.
func unixSeconds(_ text: String) throws -> Int64 {
    guard let instant = UnixMillis.parseISODate(text) else {
        throw ValidationError("'\(text)' is not a date (2027-01-31 or 2027-01-31T12:00:00Z)")
    }
    return instant.value / 1000
}

func fail(_ error: Error) -> ValidationError { ValidationError("\(error)") }

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Make a signing key; prints its trusted-keys line.")
    @Option(help: "Where to write the private key (0600; must not exist).") var out: String
    @Option(help: "Comment for the trusted-keys line.") var comment = "airlock vendor key"

    func run() throws {
        guard !FileManager.default.fileExists(atPath: out) else { throw ValidationError("\(out) exists; refusing to overwrite a signing key") }
        let key = Curve25519.Signing.PrivateKey()
        do {
            try PrivateKeyFile.write(key, to: out)
        } catch let error as LicensingError {
            throw fail(error)
        }
        print(VendorKeys.line(for: key.publicKey, comment: comment))
    }
}

struct Issue: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Issue a signed licence file.")
    @Option(help: "The vendor signing key.") var signingKey: String
    @Option(help: "Licence id: letters, digits, '.', '_', '-'.") var licenseID: String
    @Option(help: "Customer name.") var customer: String
    @Option(help: "First valid day (default: now).") var notBefore: String?
    @Option(help: "Expiry: 2027-01-31 or 2027-01-31T12:00:00Z.") var expires: String
    @Option(help: "Days of grace after expiry.") var graceDays = 30
    @Option(help: "GPUs the appliance may schedule.") var maxGpus: Int
    @Option(help: "Nodes the appliance may schedule.") var maxNodes: Int
    @Option(help: "Orgs the appliance may hold.") var maxOrgs: Int
    @Option(help: "Reserved capacity units (1 CU = 1 token/s).") var reservedCapacityUnits = 0
    @Option(help: "A licensed feature (repeat): \(Entitlements.Feature.allCases.map(\.rawValue).joined(separator: ", ")).")
    var feature: [String] = []
    @Option(help: "Where to write the licence.") var out: String

    func run() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let features = try feature.map { name in
            guard let known = Entitlements.Feature(rawValue: name) else { throw ValidationError("unknown feature '\(name)'") }
            return known
        }
        let terms = LicenseTerms(
            licenseID: licenseID, customer: customer, issuedAt: now, notBefore: try notBefore.map(unixSeconds) ?? now,
            expiresAt: try unixSeconds(expires), graceDays: graceDays,
            entitlements: Entitlements(maxGPUs: maxGpus, maxNodes: maxNodes, maxOrgs: maxOrgs,
                                       reservedCapacityUnits: reservedCapacityUnits, features: features))
        do {
            try terms.validate()
            try SignedEnvelope.sign(terms, kind: SignedEnvelope.Kind.license, with: try loadSigningKey(signingKey)).write(to: out, mode: 0o644)
        } catch let error as LicensingError {
            throw fail(error)
        }
        print("issued licence \(licenseID) for \(customer), valid until \(expires) (+\(graceDays) days' grace): \(out)")
    }
}

struct Activate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Answer an appliance's activation request with a signed activation.")
    @Option(help: "The activation request the appliance wrote.") var request: String
    @Option(help: "The licence the request names.") var license: String
    @Option(help: "The vendor signing key.") var signingKey: String
    @Option(help: "Where to write the activation.") var out: String

    func run() throws {
        do {
            let key = try loadSigningKey(signingKey)
            let asked = try ActivationRequest.verify(try SignedEnvelope.read(request, what: "activation request"))
            let licenseFile = try SignedEnvelope.read(license, what: "licence")
            let terms = try licenseFile.verified(LicenseTerms.self, kind: SignedEnvelope.Kind.license, by: key.publicKey)
            guard asked.licenseSHA256 == licenseFile.payloadSHA256, asked.licenseID == terms.licenseID else {
                throw LicensingError("the request is for another licence than \(license)")
            }
            let grant = ActivationGrant(for: asked, at: Int64(Date().timeIntervalSince1970))
            try SignedEnvelope.sign(grant, kind: SignedEnvelope.Kind.activation, with: key).write(to: out, mode: 0o644)
            print("activated licence \(terms.licenseID) on appliance \(asked.applianceFingerprint): \(out)")
        } catch let error as LicensingError {
            throw fail(error)
        }
    }
}

struct VerifyReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-report", abstract: "Check an appliance's signed usage report and print its totals.")
    @Option(help: "The report the appliance wrote.") var report: String
    @Option(help: "The appliance's activation request on file: the report must be signed by the same appliance key.")
    var request: String?

    func run() throws {
        do {
            let expected = try request.map { path -> Curve25519.Signing.PublicKey in
                let asked = try ActivationRequest.verify(try SignedEnvelope.read(path, what: "activation request"))
                return try Curve25519.Signing.PublicKey(rawRepresentation: Data(base64Encoded: asked.appliancePublicKey) ?? Data())
            }
            let checked = try UsageReport.verify(try SignedEnvelope.read(report, what: "usage report"), expectedKey: expected)
            let usage = checked.usage
            print("report \(checked.period) from appliance \(checked.applianceFingerprint), licence \(checked.licenseID ?? "none (evaluation)"): signature OK"
                  + (expected == nil ? " (appliance key not compared: give --request)" : ", appliance key matches the request"))
            print("ledger rows \(usage.rows) (seq \(usage.firstSeq.map(String.init) ?? "-")–\(usage.lastSeq.map(String.init) ?? "-")), head seq \(usage.headSeq) hash \(usage.headHash)")
            print("org\tmodel\trequests\tprompt\tcompletion\ttotal\testimated")
            for line in usage.lines {
                print("\(line.orgName.isEmpty ? line.orgID : line.orgName)\t\(line.model)\t\(line.requests)\t\(line.promptTokens)\t\(line.completionTokens)\t\(line.totalTokens)\t\(line.estimatedRequests)")
            }
        } catch let error as LicensingError {
            throw fail(error)
        } catch let error as CryptoKitError {
            throw ValidationError("the activation request holds no valid appliance key: \(error)")
        }
    }
}

