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

/// The appliance's own small certificate authority for node agents (port 9443). It lives in
/// `<data dir>/node-ca/` (key mode 0600) and is made on first use. It signs two kinds of
/// certificate: agents' client certificates, from a CSR whose key never leaves the GPU host,
/// and the 9443 listener's server certificate. Agents trust only this CA for 9443, and 9443
/// accepts only client certificates this CA signed — the customer's web PKI is not involved.
public struct NodeAuthority: Sendable {
    public let certificate: Certificate
    public let certificatePEM: String
    private let privateKey: P256.Signing.PrivateKey

    /// Client certificates are valid this long; a node re-enrols to renew.
    public static let clientValidityDays = 397
    static let caValidityDays = 3_650

    /// The CA in `<dataDirectory>/node-ca/`, made now if there is none.
    public static func openOrCreate(dataDirectory: String, now: Date = Date()) throws -> (NodeAuthority, created: Bool) {
        let directory = dataDirectory + "/node-ca"
        let certificatePath = directory + "/ca.crt"
        let keyPath = directory + "/ca.key"
        let files = FileManager.default
        if files.fileExists(atPath: certificatePath) || files.fileExists(atPath: keyPath) {
            return (try load(certificatePath: certificatePath, keyPath: keyPath), false)
        }
        let key = P256.Signing.PrivateKey()
        let suffix = String(UInt32.random(in: .min ... .max), radix: 16)
        let name = try DistinguishedName {
            OrganizationName("Airlock appliance")
            CommonName("Airlock node CA \(suffix)")
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3_600), notValidAfter: now.addingTimeInterval(Double(caValidityDays) * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: .init(key))
        let pem = try Self.pem(certificate)
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Key first, as for the HTTPS certificate: a crash in between is reported, not papered over.
        try PEMFiles.write(key.pemRepresentation + "\n", to: keyPath, mode: 0o600)
        try PEMFiles.write(pem, to: certificatePath, mode: 0o644)
        return (NodeAuthority(certificate: certificate, certificatePEM: pem, privateKey: key), true)
    }

    static func load(certificatePath: String, keyPath: String) throws -> NodeAuthority {
        let pem = try PEMFiles.read(certificatePath, what: "node CA certificate")
        let keyPEM = try PEMFiles.read(keyPath, what: "node CA key")
        do {
            let certificate = try Certificate(pemEncoded: pem)
            let key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
            guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
                throw CertificateError("the key does not match the certificate")
            }
            return NodeAuthority(certificate: certificate, certificatePEM: pem, privateKey: key)
        } catch {
            throw CertificateError("\(certificatePath) / \(keyPath) are not a usable node CA: \(error)")
        }
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
        return try sign(publicKey: request.publicKey, subject: subject, extensions: extensions,
                        days: Self.clientValidityDays, now: now)
    }

    /// The 9443 listener's certificate and key, for `hostnames` (plus loopback addresses).
    public func issueServerCertificate(hostnames: [String], now: Date = Date()) throws -> (certificatePEM: String, keyPEM: String) {
        let key = P256.Signing.PrivateKey()
        let (subject, extensions) = try ServerCertificate.serverProfile(hostnames: hostnames)
        let certificate = try sign(publicKey: .init(key.publicKey), subject: subject, extensions: extensions,
                                   days: ServerCertificate.validityDays, now: now)
        return (try Self.pem(certificate), key.pemRepresentation + "\n")
    }

    private func sign(publicKey: Certificate.PublicKey, subject: DistinguishedName, extensions: Certificate.Extensions,
                      days: Int, now: Date) throws -> Certificate {
        var extensions = extensions
        let authority = AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        try extensions.append(Certificate.Extension(authority, critical: false))
        let issued = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: .init(privateKey))
        return issued
    }

    private static func pem(_ certificate: Certificate) throws -> String { try certificate.serializeAsPEM().pemString + "\n" }

    /// Whether `leaf` was signed by this CA, is within its validity at `now`, and is a client
    /// certificate naming a node; the identity it names if so.
    public func verifyClient(_ leaf: Certificate, now: Date = Date()) async -> NodeIdentity? {
        var verifier = Verifier(rootCertificates: CertificateStore([certificate])) {
            RFC5280Policy(validationTime: now)
        }
        guard case .validCertificate = await verifier.validate(leaf: leaf, intermediates: CertificateStore()) else { return nil }
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
