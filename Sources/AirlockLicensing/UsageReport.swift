import AirlockCore
import Crypto
import Foundation

/// `airlock license report`: the appliance's own statement of what it served in a month, for
/// the vendor's true-up — signed by its identity key, naming the licence, and carrying the
/// ledger's head so an auditor on site can tie the figures to the hash-chained rows.
public struct UsageReport: Codable, Sendable, Equatable {
    /// `2026-11`: the calendar month, UTC.
    public var period: String
    public var periodStart: Int64
    public var periodEnd: Int64
    public var generatedAt: Int64
    /// nil on an unlicensed (evaluation) appliance.
    public var licenseID: String?
    public var applianceFingerprint: String
    public var appliancePublicKey: String
    public var usage: UsageSummary

    enum CodingKeys: String, CodingKey {
        case period, periodStart = "period_start", periodEnd = "period_end", generatedAt = "generated_at"
        case licenseID = "license_id", applianceFingerprint = "appliance_fingerprint", appliancePublicKey = "appliance_public_key", usage
    }

    public init(period: String, periodStart: Int64, periodEnd: Int64, generatedAt: Int64, licenseID: String?,
                identity: ApplianceIdentity, usage: UsageSummary) {
        self.period = period
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.generatedAt = generatedAt
        self.licenseID = licenseID
        applianceFingerprint = identity.fingerprint
        appliancePublicKey = identity.publicKey.rawRepresentation.base64EncodedString()
        self.usage = usage
    }

    /// `2026-11` → its first second and the first second of the next month, UTC.
    public static func month(_ period: String) throws -> (start: Int64, end: Int64) {
        let parts = period.split(separator: "-")
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let year = Int(parts[0]), let month = Int(parts[1]),
              (2000...9999).contains(year), (1...12).contains(month) else {
            throw LicensingError("the period must be a month, YYYY-MM (e.g. 2026-11)")
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let start = calendar.date(from: DateComponents(year: year, month: month, day: 1))!
        let end = calendar.date(byAdding: .month, value: 1, to: start)!
        return (Int64(start.timeIntervalSince1970), Int64(end.timeIntervalSince1970))
    }

    /// Checks a report file is signed by the appliance key it names and, when given, that this is
    /// the key the vendor has on file for the appliance (from its activation request).
    public static func verify(_ envelope: SignedEnvelope, expectedKey: Curve25519.Signing.PublicKey?) throws -> UsageReport {
        let unverified: UsageReport
        do {
            unverified = try JSONDecoder().decode(UsageReport.self, from: envelope.payload)
        } catch {
            throw LicensingError("the report does not have the expected fields")
        }
        guard let raw = Data(base64Encoded: unverified.appliancePublicKey),
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
            throw LicensingError("the report names no valid appliance key")
        }
        if let expectedKey, expectedKey.rawRepresentation != key.rawRepresentation {
            throw LicensingError("the report is signed by appliance key \(KeyID.of(key)), not the one on file (\(KeyID.of(expectedKey)))")
        }
        return try envelope.verified(UsageReport.self, kind: SignedEnvelope.Kind.usageReport, by: key)
    }
}

extension LicenseState {
    /// The report for `period`, signed by this appliance's identity key.
    public func signedReport(period: String, usage: UsageSummary, licenseID: String?, now: Int64) throws -> (UsageReport, SignedEnvelope) {
        let (start, end) = try UsageReport.month(period)
        let report = UsageReport(period: period, periodStart: start, periodEnd: end, generatedAt: now, licenseID: licenseID,
                                 identity: identity, usage: usage)
        return (report, try identity.sign(try SignedEnvelope.encoder.encode(report), kind: SignedEnvelope.Kind.usageReport))
    }
}
