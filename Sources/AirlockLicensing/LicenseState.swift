import Foundation

/// The appliance's licence files, in `<data dir>/license/` (0700): the installed activation
/// (`activation.lic`) and the licence it names (`license-<sha256>.lic`), and the pending request
/// between `request` and `activate`. Every read verifies the signatures again, so a file edited
/// on disk is an invalid licence, never a different one.
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

    /// A licence is kept under the hash its activation names, so that replacing `activation.lic`
    /// alone switches from one installed pair to the next.
    func licensePath(sha256: String) -> String { directory + "/license-\(sha256).lic" }
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
            nonce: nonce.hexString, createdAt: now)
        let envelope = try identity.sign(try SignedEnvelope.encoder.encode(request), kind: SignedEnvelope.Kind.activationRequest)
        try makeDirectory()
        try license.write(to: pendingLicensePath)
        try envelope.write(to: pendingRequestPath)
        try envelope.write(to: output, mode: 0o644)
        return (terms, request)
    }

    /// Installs the licence the pending request was for, if `activationFile` is the vendor's
    /// activation of exactly that request on this appliance. Nothing changes otherwise.
    public func activate(activationFile: String) throws -> Installed {
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
        // The licence first, under its own name; then the activation, replacing the old one in
        // one rename — the commit point: before it the previous pair is installed, after it the
        // new one, never a mix.
        let previous = try? SignedEnvelope.read(activationPath, what: "activation").payload
        try license.write(to: licensePath(sha256: license.payloadSHA256))
        try envelope.write(to: activationPath)
        if let previous, let old = try? JSONDecoder().decode(ActivationGrant.self, from: previous),
           old.licenseSHA256 != grant.licenseSHA256 {
            try? FileManager.default.removeItem(atPath: licensePath(sha256: old.licenseSHA256))
        }
        try? FileManager.default.removeItem(atPath: pendingRequestPath)
        try? FileManager.default.removeItem(atPath: pendingLicensePath)
        return Installed(terms: terms, grant: grant)
    }

    /// The installed licence, nil when there is none (evaluation mode); throws when the files
    /// are there but do not verify for this appliance.
    public func installed() throws -> Installed? {
        guard FileManager.default.fileExists(atPath: activationPath) else { return nil }
        let envelope = try SignedEnvelope.read(activationPath, what: "activation")
        let grant = try envelope.verified(ActivationGrant.self, kind: SignedEnvelope.Kind.activation, by: try keys.key(for: envelope))
        guard Self.isHex(grant.licenseSHA256) else { throw LicensingError("the activation names no licence hash") }
        let license = try SignedEnvelope.read(licensePath(sha256: grant.licenseSHA256), what: "licence")
        guard grant.licenseSHA256 == license.payloadSHA256 else { throw LicensingError("the activation is for another licence than the one installed") }
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

    /// 64 lower-case hex digits: safe to use in a file name.
    static func isHex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    private func makeDirectory() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }
}
