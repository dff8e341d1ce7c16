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
        try await store.write { tx in
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
            try await store.write { tx in
                try tx.audit(auditEntry(actor, "license.activate", type: "license", id: installed.terms.licenseID, before: before, after: after))
            }
            return after
        } catch let error as LicensingError {
            try await store.write { tx in
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
}
