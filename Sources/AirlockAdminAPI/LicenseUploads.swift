import AirlockAdmin
import AirlockCore
import AirlockLicensing
import Foundation

/// Offline activation through the API and the dashboard: the uploaded file goes through exactly
/// the checks `airlock license request / activate` apply (`AdminActions` + `LicenseState`), via a
/// private scratch file, so there is one code path for a file whichever way it arrives.
extension AdminAPI {
    /// Checks a licence file and returns the signed activation request to carry to the vendor.
    public func licenseRequest(licenseFile: Data, by actor: AdminActor) async throws -> Data {
        let state = try licensing()
        return try await Self.withScratch(licenseFile) { input, scratch in
            let output = scratch + "/activation-request.json"
            _ = try await actions.requestLicenseActivation(state, licenseFile: input, output: output, by: actor)
            return try Data(contentsOf: URL(fileURLWithPath: output))
        }
    }

    /// Installs the licence an activation file grants (refused, audited, if it does not answer
    /// this appliance's pending request), and has the daemon judge it at once.
    public func activateLicense(activationFile: Data, by actor: AdminActor) async throws -> LicenseStatus {
        let state = try licensing()
        let status = try await Self.withScratch(activationFile) { input, _ in
            try await actions.activateLicense(state, activationFile: input, by: actor)
        }
        await dependencies.licenseChanged()
        return status
    }

    private func licensing() throws -> LicenseState {
        guard let state = dependencies.licenseState else {
            throw AirlockError.invalidArgument("licence activation is not available here; use `airlock license` on the appliance")
        }
        return state
    }

    /// Runs `body` with `data` in a fresh 0700 scratch folder (as `upload`), removed afterwards.
    private static func withScratch<T: Sendable>(_ data: Data, _ body: (String, String) async throws -> T) async throws -> T {
        guard !data.isEmpty else { throw AirlockError.invalidArgument("the file is empty") }
        let folder = try ScratchFolder("upload")
        let scratch = folder.path
        let input = scratch + "/upload"
        try AtomicFile.write(data, to: input, mode: 0o600)
        do {
            return try await body(input, scratch)
        } catch let AirlockError.invalidArgument(message) {
            // The scratch path means nothing to the uploader and is none of their business.
            throw AirlockError.invalidArgument(message.replacingOccurrences(of: input, with: "the uploaded file"))
        }
    }
}
