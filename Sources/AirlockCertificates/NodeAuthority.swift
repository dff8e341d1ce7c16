import Crypto
import Foundation
import SwiftASN1
import X509

/// Who a node certificate speaks for: the node, and for an org-owned node (seed 004 § 44.1) its
/// org. Carried as URI subject-alternative names, so the identity is whatever the appliance's
/// CA signed — never a field the agent sends.
public struct NodeIdentity: Sendable, Equatable {
    public var nodeID: String
    public var orgID: String?

    public init(nodeID: String, orgID: String?) {
        self.nodeID = nodeID
        self.orgID = orgID
    }

    static let nodePrefix = "urn:airlock:node:"
    static let orgPrefix = "urn:airlock:org:"

    var uris: [GeneralName] {
        [.uniformResourceIdentifier(Self.nodePrefix + nodeID)] + (orgID.map { [.uniformResourceIdentifier(Self.orgPrefix + $0)] } ?? [])
    }

    /// The identity a certificate names, or nil if it names no node (or more than one).
    public init?(certificate: Certificate) {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return nil }
        var nodes: [String] = []
        var orgs: [String] = []
        for case let .uniformResourceIdentifier(uri) in names {
            if uri.hasPrefix(Self.nodePrefix) { nodes.append(String(uri.dropFirst(Self.nodePrefix.count))) }
            if uri.hasPrefix(Self.orgPrefix) { orgs.append(String(uri.dropFirst(Self.orgPrefix.count))) }
        }
        guard nodes.count == 1, orgs.count <= 1, !nodes[0].isEmpty else { return nil }
        self.init(nodeID: nodes[0], orgID: orgs.first)
    }
}

/// The appliance's certificate authority for node agents (port 9443), a `LocalAuthority` in
/// `<data dir>/node-ca/`. It signs two kinds of certificate: agents' client certificates, from a
/// CSR whose key never leaves the GPU host, and the 9443 listener's server certificate. Agents
/// trust only this CA for 9443, and 9443 accepts only client certificates this CA signed — the
/// customer's web PKI is not involved.
public struct NodeAuthority: Sendable {
    let authority: LocalAuthority
    public var certificate: Certificate { authority.certificate }
    public var certificatePEM: String { authority.certificatePEM }

    /// Client certificates are valid this long; a node re-enrols to renew.
    public static let clientValidityDays = 397

    /// The CA in `<dataDirectory>/node-ca/`, made now if there is none.
    public static func openOrCreate(dataDirectory: String, now: Date = Date()) throws -> (NodeAuthority, created: Bool) {
        let (authority, created) = try LocalAuthority.openOrCreate(directory: dataDirectory + "/node-ca", name: "node CA", now: now)
        return (NodeAuthority(authority: authority), created)
    }

    /// Signs an agent's client certificate for `identity` from its PEM CSR. The CSR's own
    /// signature must verify (the agent holds the key); everything else in it — subject,
    /// requested extensions — is ignored: the CA decides what the certificate says.
    public func issueClientCertificate(csrPEM: String, for identity: NodeIdentity, now: Date = Date()) throws -> String {
        try Self.pem(signClient(csrPEM: csrPEM, for: identity, now: now))
    }

    /// The same, with the certificate's fingerprint (`fingerprint(_:)`), which enrolment records.
    public func issueClientCertificateWithFingerprint(csrPEM: String, for identity: NodeIdentity) throws -> (certificatePEM: String, sha256: String) {
        let certificate = try signClient(csrPEM: csrPEM, for: identity, now: Date())
        return (try Self.pem(certificate), Self.fingerprint(certificate))
    }

    /// A PEM CSR whose signature verifies, or a `CertificateError` saying what is wrong with it.
    /// Enrolment checks it before it uses the token, so a bad CSR does not burn the token.
    public static func checkedRequest(_ csrPEM: String) throws -> CertificateSigningRequest {
        let request: CertificateSigningRequest
        do {
            request = try CertificateSigningRequest(pemEncoded: csrPEM)
        } catch {
            throw CertificateError("the certificate signing request is not a PEM CSR")
        }
        guard request.publicKey.isValidSignature(request.signature, for: request) else {
            throw CertificateError("the certificate signing request's signature does not verify")
        }
        return request
    }

    private func signClient(csrPEM: String, for identity: NodeIdentity, now: Date) throws -> Certificate {
        let request = try Self.checkedRequest(csrPEM)
        let subject = try DistinguishedName {
            OrganizationName("Airlock node")
            CommonName(identity.nodeID)
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.clientAuth])
            SubjectAlternativeNames(identity.uris)
        }
        return try authority.sign(publicKey: request.publicKey, subject: subject, extensions: extensions,
                                  days: Self.clientValidityDays, now: now)
    }

    /// The 9443 listener's certificate and key, for `hostnames` (plus loopback addresses).
    public func issueServerCertificate(hostnames: [String], now: Date = Date()) throws -> (certificatePEM: String, keyPEM: String) {
        try authority.issueServerCertificate(hostnames: hostnames, now: now)
    }

    private static func pem(_ certificate: Certificate) throws -> String { try LocalAuthority.pem(certificate) }

    /// Whether `leaf` was signed by this CA, is within its validity at `now`, and is a client
    /// certificate naming a node; the identity it names if so.
    public func verifyClient(_ leaf: Certificate, now: Date = Date()) async -> NodeIdentity? {
        guard await authority.issued(leaf, now: now) else { return nil }
        guard let usages = try? leaf.extensions.extendedKeyUsage, usages.contains(.clientAuth) else { return nil }
        return NodeIdentity(certificate: leaf)
    }
}

/// The agent's side of enrolment: a fresh P-256 key, which stays on the GPU host, and a CSR
/// proving possession of it for the CA to sign.
public enum NodeKeyRequest {
    public static func make(commonName: String) throws -> (csrPEM: String, keyPEM: String) {
        let key = P256.Signing.PrivateKey()
        let request = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName(commonName) },
            privateKey: .init(key), attributes: CertificateSigningRequest.Attributes(), signatureAlgorithm: .ecdsaWithSHA256)
        return (try request.serializeAsPEM().pemString + "\n", key.pemRepresentation + "\n")
    }
}

extension NodeAuthority {
    /// Lower-case hex SHA-256 of a certificate's DER bytes: what enrolment records as the only
    /// certificate a node may use, and what port 9443 compares.
    public static func fingerprint(_ certificate: Certificate) -> String {
        var serializer = DER.Serializer()
        guard (try? serializer.serialize(certificate)) != nil else { return "" }
        return SHA256.hash(data: serializer.serializedBytes).map { String(format: "%02x", $0) }.joined()
    }
}
