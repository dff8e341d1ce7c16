import AirlockCore
import AirlockLicensing
import Foundation

/// Licence changes are admin actions like any other: each is one audit row, with the licence
/// status before and after.
extension AdminActions {
    /// `airlock license request`: checks the licence file and writes the activation request.
    public func requestLicenseActivation(_ state: LicenseState, licenseFile: String, output: String,
                                         by actor: AdminActor) async throws -> ActivationRequest {
        let now = clock.now().value / 1000
        let (terms, request): (LicenseTerms, ActivationRequest)
        do {
            (terms, request) = try state.request(licenseFile: licenseFile, output: output, now: now)
        } catch let error as LicensingError {
            throw AirlockError.invalidArgument(error.description)
        }
        _ = try await store.write { tx in
            try tx.audit(auditEntry(actor, "license.request", type: "license", id: terms.licenseID,
                                    before: nil as ActivationRequest?, after: request))
        }
        return request
    }

    /// `airlock license activate`: installs the licence if the activation answers the pending
    /// request on this appliance; a refusal is audited too, with its reason.
    public func activateLicense(_ state: LicenseState, activationFile: String, by actor: AdminActor) async throws -> LicenseStatus {
        let before = try await judgedLicenseStatus(state)
        do {
            _ = try state.activate(activationFile: activationFile)
            let after = try await judgedLicenseStatus(state)
            _ = try await store.write { tx in
                try tx.audit(auditEntry(actor, "license.activate", type: "license", id: after.licenseID ?? "-", before: before, after: after))
            }
            return after
        } catch let error as LicensingError {
            _ = try await store.write { tx in
                try tx.audit(auditEntry(actor, "license.activate_refused", type: "license", id: before.licenseID ?? "-",
                                        before: nil as String?, after: error.description))
            }
            throw AirlockError.invalidArgument(error.description)
        }
    }

    /// Turning the clock back more than this is flagged, unless airlock.toml says otherwise.
    public static let clockRollbackTolerance: Int64 = 300

    /// The one rule for judging the licence (a read, not audited): at the later of the clock and
    /// the latest time the appliance has recorded (ledger and audit rows, append-only and
    /// chained), so that turning the clock back never extends a licence. `clockBehindSeconds`
    /// says by how much the clock is behind that mark, when it is.
    public func judgedLicenseStatus(_ state: LicenseState) async throws -> LicenseStatus {
        let now = clock.now().value / 1000
        let highWater = ((try await store.read { try $0.latestRecordedTime() })?.value ?? 0) / 1000
        var status = LicenseStatus.evaluate(Result { try state.installed() }, now: max(now, highWater))
        if highWater > now { status.clockBehindSeconds = highWater - now }
        return status
    }

    /// `judgedLicenseStatus`, and a clock more than `tolerance` behind is audited
    /// (`license.clock_rollback`); within it, it is not reported.
    public func currentLicenseStatus(_ state: LicenseState, tolerance: Int64 = clockRollbackTolerance,
                                     by actor: AdminActor) async throws -> LicenseStatus {
        var status = try await judgedLicenseStatus(state)
        guard let behind = status.clockBehindSeconds, behind > tolerance else {
            status.clockBehindSeconds = nil
            return status
        }
        let licenseID = status.licenseID ?? "evaluation"
        let now = clock.now().value / 1000
        _ = try await store.write { tx in
            try tx.audit(auditEntry(actor, "license.clock_rollback", type: "license", id: licenseID,
                                    before: nil as String?,
                                    after: "clock \(now) is \(behind) s behind the latest recorded time \(now + behind)"))
        }
        return status
    }
}

extension AdminActions {
    /// `airlock license report`: the month's ledger totals per org and model, with the ledger
    /// head, signed by the appliance; written to `output` and audited.
    public func writeUsageReport(_ state: LicenseState, period: String, output: String, by actor: AdminActor) async throws -> UsageReport {
        let (start, end) = try UsageReport.month(period)
        let usage = try await store.read { try $0.usageSummary(from: UnixMillis(start * 1000), to: UnixMillis(end * 1000)) }
        let (report, envelope) = try state.signedReport(period: period, usage: usage, licenseID: try await judgedLicenseStatus(state).licenseID,
                                                        now: clock.now().value / 1000)
        try envelope.write(to: output, mode: 0o644)
        _ = try await store.write { tx in
            try tx.audit(auditEntry(actor, "license.report", type: "license", id: report.licenseID ?? "evaluation",
                                    before: nil as UsageSummary?, after: usage))
        }
        return report
    }
}
