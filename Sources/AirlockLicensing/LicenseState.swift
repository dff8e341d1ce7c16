import Foundation

/// The appliance's licence files, in `<data dir>/license/` (0700): the installed licence and its
/// activation, and the pending request between `request` and `activate`. Every read verifies the
/// signatures again, so a file edited on disk is an invalid licence, never a different one.
public struct LicenseState: Sendable {
    public let directory: String
    let keys: VendorKeys
    let identity: ApplianceIdentity

    public init(dataDirectory: String, keys: VendorKeys, identity: ApplianceIdentity) {
        directory = dataDirectory + "/license"
        self.keys = keys
        self.identity = identity
    }

    /// This appliance's fingerprint, for the operator to read to the vendor.
    public var identityFingerprint: String { identity.fingerprint }

    var licensePath: String { directory + "/license.lic" }
    var activationPath: String { directory + "/activation.lic" }
    var pendingLicensePath: String { directory + "/pending-license.lic" }
    var pendingRequestPath: String { directory + "/pending-request.lic" }

    /// A licence and activation that verify for this appliance.
    public struct Installed: Sendable, Equatable {
        public var terms: LicenseTerms
        public var grant: ActivationGrant
    }

    /// Checks `licenseFile` and writes an activation request for it to `output`; the request's
    /// nonce is kept until an activation for it arrives (a newer request replaces it).
    public func request(licenseFile: String, output: String, now: Int64) throws -> (LicenseTerms, ActivationRequest) {
        let license = try SignedEnvelope.read(licenseFile, what: "licence")
        let terms = try verifiedTerms(license)
        guard now < terms.graceEndsAt else { throw LicensingError("licence \(terms.licenseID) has expired (grace included); ask the vendor for a renewal") }
        var nonce = [UInt8](repeating: 0, count: 16)
        for index in nonce.indices { nonce[index] = UInt8.random(in: .min ... .max) }
        let request = ActivationRequest(
            licenseID: terms.licenseID, licenseSHA256: license.payloadSHA256, applianceFingerprint: identity.fingerprint,
            appliancePublicKey: identity.publicKey.rawRepresentation.base64EncodedString(),
            nonce: nonce.map { String(format: "%02x", $0) }.joined(), createdAt: now)
        let envelope = try identity.sign(try SignedEnvelope.encoder.encode(request), kind: SignedEnvelope.Kind.activationRequest)
        try makeDirectory()
        try license.write(to: pendingLicensePath)
        try envelope.write(to: pendingRequestPath)
        try envelope.write(to: output, mode: 0o644)
        return (terms, request)
    }

    /// Installs the licence the pending request was for, if `activationFile` is the vendor's
    /// activation of exactly that request on this appliance. Nothing changes otherwise.
    public func activate(activationFile: String, now: Int64) throws -> Installed {
        let envelope = try SignedEnvelope.read(activationFile, what: "activation")
        let grant = try envelope.verified(ActivationGrant.self, kind: SignedEnvelope.Kind.activation, by: try keys.key(for: envelope))
        guard grant.applianceFingerprint == identity.fingerprint else {
            throw LicensingError("this activation is for appliance \(grant.applianceFingerprint.prefix(40)), not this one (\(identity.fingerprint))")
        }
        guard FileManager.default.fileExists(atPath: pendingRequestPath) else {
            throw LicensingError("no activation request is pending on this appliance; run `airlock license request` first")
        }
        let pending = try ActivationRequest.verify(try SignedEnvelope.read(pendingRequestPath, what: "pending activation request"))
        guard grant.nonce == pending.nonce else {
            throw LicensingError("this activation answers another request (an older one, or another appliance's); carry the newest request to the vendor")
        }
        let license = try SignedEnvelope.read(pendingLicensePath, what: "pending licence")
        guard grant.licenseSHA256 == license.payloadSHA256, grant.licenseID == pending.licenseID else {
            throw LicensingError("this activation is for another licence than the pending request's")
        }
        let terms = try verifiedTerms(license)
        // The activation is written last: until it is in place, the previous pair stays the
        // installed one (a licence is only ever read together with an activation naming it).
        try license.write(to: licensePath + ".incoming")
        try envelope.write(to: activationPath + ".incoming")
        guard rename(licensePath + ".incoming", licensePath) == 0, rename(activationPath + ".incoming", activationPath) == 0 else {
            throw LicensingError("cannot install the licence in \(directory)")
        }
        try? FileManager.default.removeItem(atPath: pendingRequestPath)
        try? FileManager.default.removeItem(atPath: pendingLicensePath)
        _ = now
        return Installed(terms: terms, grant: grant)
    }

    /// The installed licence, nil when there is none (evaluation mode); throws when the files
    /// are there but do not verify for this appliance.
    public func installed() throws -> Installed? {
        let files = FileManager.default
        guard files.fileExists(atPath: activationPath) || files.fileExists(atPath: licensePath) else { return nil }
        let license = try SignedEnvelope.read(licensePath, what: "licence")
        let envelope = try SignedEnvelope.read(activationPath, what: "activation")
        let grant = try envelope.verified(ActivationGrant.self, kind: SignedEnvelope.Kind.activation, by: try keys.key(for: envelope))
        guard grant.licenseSHA256 == license.payloadSHA256 else { throw LicensingError("the activation is for another licence than license.lic") }
        guard grant.applianceFingerprint == identity.fingerprint else {
            throw LicensingError("the licence was activated for appliance \(grant.applianceFingerprint.prefix(40)), not this one (\(identity.fingerprint))")
        }
        return Installed(terms: try verifiedTerms(license), grant: grant)
    }

    func verifiedTerms(_ license: SignedEnvelope) throws -> LicenseTerms {
        let terms = try license.verified(LicenseTerms.self, kind: SignedEnvelope.Kind.license, by: try keys.key(for: license))
        try terms.validate()
        return terms
    }

    private func makeDirectory() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }
}
