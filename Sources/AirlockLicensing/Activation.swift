import AirlockCore
import Crypto
import Foundation

/// What the appliance sends out (`airlock license request`), signed by its identity key: which
/// licence (by the hash of its signed bytes), which appliance, and a one-time nonce.
public struct ActivationRequest: Codable, Sendable, Equatable {
    public var licenseID: String
    public var licenseSHA256: String
    public var applianceFingerprint: String
    /// The appliance identity's raw public key, base64: the vendor checks the request's signature with it.
    public var appliancePublicKey: String
    public var nonce: String
    public var createdAt: Int64

    enum CodingKeys: String, CodingKey {
        case licenseID = "license_id", licenseSHA256 = "license_sha256", applianceFingerprint = "appliance_fingerprint"
        case appliancePublicKey = "appliance_public_key", nonce, createdAt = "created_at"
    }

    public init(licenseID: String, licenseSHA256: String, applianceFingerprint: String, appliancePublicKey: String,
                nonce: String, createdAt: Int64) {
        self.licenseID = licenseID
        self.licenseSHA256 = licenseSHA256
        self.applianceFingerprint = applianceFingerprint
        self.appliancePublicKey = appliancePublicKey
        self.nonce = nonce
        self.createdAt = createdAt
    }

    /// Reads a request file and checks it is signed by the appliance key it names — what the
    /// vendor tool does before activating.
    public static func verify(_ envelope: SignedEnvelope) throws -> ActivationRequest {
        let unverified: ActivationRequest
        do {
            unverified = try JSONDecoder().decode(ActivationRequest.self, from: envelope.payload)
        } catch {
            throw LicensingError("the activation request does not have the expected fields")
        }
        guard let raw = Data(base64Encoded: unverified.appliancePublicKey),
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
            throw LicensingError("the activation request names no valid appliance key")
        }
        return try envelope.verified(ActivationRequest.self, kind: SignedEnvelope.Kind.activationRequest, by: key)
    }
}

/// The vendor's answer (`airlock-vendor activate`): this licence, on this appliance, for this
/// request's nonce.
public struct ActivationGrant: Codable, Sendable, Equatable {
    public var licenseID: String
    public var licenseSHA256: String
    public var applianceFingerprint: String
    public var nonce: String
    public var activatedAt: Int64

    enum CodingKeys: String, CodingKey {
        case licenseID = "license_id", licenseSHA256 = "license_sha256", applianceFingerprint = "appliance_fingerprint"
        case nonce, activatedAt = "activated_at"
    }

    public init(licenseID: String, licenseSHA256: String, applianceFingerprint: String, nonce: String, activatedAt: Int64) {
        self.licenseID = licenseID
        self.licenseSHA256 = licenseSHA256
        self.applianceFingerprint = applianceFingerprint
        self.nonce = nonce
        self.activatedAt = activatedAt
    }

    /// What the vendor signs for a checked request.
    public init(for request: ActivationRequest, at now: Int64) {
        self.init(licenseID: request.licenseID, licenseSHA256: request.licenseSHA256,
                  applianceFingerprint: request.applianceFingerprint, nonce: request.nonce, activatedAt: now)
    }
}

extension SignedEnvelope {
    /// SHA-256 of the signed payload, hex: how an activation names its licence.
    public var payloadSHA256: String { Data(SHA256.hash(data: payload)).hexString }
}
