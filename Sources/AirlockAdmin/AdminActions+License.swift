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
        let (terms, request) = try state.request(licenseFile: licenseFile, output: output, now: now)
        _ = try await store.write { tx in
            try tx.audit(auditEntry(actor, "license.request", type: "license", id: terms.licenseID,
                                    before: nil as ActivationRequest?, after: request))
        }
        return request
    }

    /// `airlock license activate`: installs the licence if the activation answers the pending
    /// request on this appliance; a refusal is audited too, with its reason.
    public func activateLicense(_ state: LicenseState, activationFile: String, by actor: AdminActor) async throws -> LicenseStatus {
        let now = clock.now().value / 1000
        let before = licenseStatus(state)
        do {
            let installed = try state.activate(activationFile: activationFile, now: now)
            let after = LicenseStatus.evaluate(.success(installed), now: now)
            _ = try await store.write { tx in
                try tx.audit(auditEntry(actor, "license.activate", type: "license", id: installed.terms.licenseID, before: before, after: after))
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

    /// The licence status now (a read: not audited).
    public func licenseStatus(_ state: LicenseState) -> LicenseStatus {
        LicenseStatus.evaluate(Result { try state.installed() }, now: clock.now().value / 1000)
    }

    /// Turning the clock back more than this is flagged, unless airlock.toml says otherwise.
    public static let clockRollbackTolerance: Int64 = 300

    /// The licence status judged at the later of the clock and the latest time the appliance
    /// has recorded (ledger and audit rows), so that turning the clock back never extends a
    /// licence. A clock more than `clockRollbackTolerance` behind that mark is audited
    /// (`license.clock_rollback`) and reported in the status.
    public func currentLicenseStatus(_ state: LicenseState, tolerance: Int64 = clockRollbackTolerance,
                                     by actor: AdminActor) async throws -> LicenseStatus {
        let now = clock.now().value / 1000
        let recorded = (try await store.read { try $0.latestRecordedTime() })?.value ?? 0
        let highWater = recorded / 1000
        var status = LicenseStatus.evaluate(Result { try state.installed() }, now: max(now, highWater))
        if highWater - now > tolerance {
            status.clockBehindSeconds = highWater - now
            let licenseID = status.licenseID ?? "evaluation"
            _ = try await store.write { tx in
                try tx.audit(auditEntry(actor, "license.clock_rollback", type: "license", id: licenseID,
                                        before: nil as String?,
                                        after: "clock \(now) is \(highWater - now) s behind the latest recorded time \(highWater)"))
            }
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
        let (report, envelope) = try state.signedReport(period: period, usage: usage, licenseID: licenseStatus(state).licenseID,
                                                        now: clock.now().value / 1000)
        try envelope.write(to: output, mode: 0o644)
        _ = try await store.write { tx in
            try tx.audit(auditEntry(actor, "license.report", type: "license", id: report.licenseID ?? "evaluation",
                                    before: nil as UsageSummary?, after: usage))
        }
        return report
    }
}
