import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// The certificate and key `airlockd` serves HTTPS with: the customer's, when airlock.toml names
/// them, or a self-signed one made on first start and kept in the data dir (`tls/`), so clients
/// that pinned its fingerprint keep working across restarts.
public struct ServerCertificate: Sendable {
    public let certificatePEM: String
    public let privateKeyPEM: String
    /// Where the certificate lives, for clients to trust (`AIRLOCK_CA_FILE`).
    public let certificatePath: String

    /// SHA-256 of the leaf certificate's DER bytes, as colon-separated hex (what browsers and
    /// `openssl x509 -fingerprint -sha256` print).
    public var fingerprint: String {
        let leaf = (try? PEMDocument.parseMultiple(pemString: certificatePEM))?.first?.derBytes ?? []
        let digest = SHA256.hash(data: leaf)
        return digest.map { String(format: "%02X", $0) }.joined(separator: ":")
    }

    /// TLS 1.2 and 1.3 only, HTTP/1.1 offered by ALPN.
    public func tlsConfiguration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        return configuration
    }

    /// Reads a customer's PEM certificate chain and key.
    public static func load(certificatePath: String, privateKeyPath: String) throws -> ServerCertificate {
        let certificate = try PEMFiles.read(certificatePath, what: "TLS certificate")
        let key = try PEMFiles.read(privateKeyPath, what: "TLS private key")
        let loaded = ServerCertificate(certificatePEM: certificate, privateKeyPEM: key, certificatePath: certificatePath)
        do {
            // Building the context checks what parsing alone does not: that the key matches the
            // certificate. Done here, once, so a bad pair stops start-up with this message.
            _ = try NIOSSLContext(configuration: loaded.tlsConfiguration())
        } catch {
            throw CertificateError("\(certificatePath) / \(privateKeyPath) are not a usable PEM certificate and key: \(error)")
        }
        return loaded
    }

    /// The self-signed certificate in `<dataDirectory>/tls/`, made now if there is none.
    /// - Returns: the certificate and whether it was just created.
    public static func selfSigned(dataDirectory: String, hostnames: [String]) throws -> (ServerCertificate, created: Bool) {
        let directory = dataDirectory + "/tls"
        let certificatePath = directory + "/server.crt"
        let keyPath = directory + "/server.key"
        let files = FileManager.default
        if files.fileExists(atPath: certificatePath) || files.fileExists(atPath: keyPath) {
            return (try load(certificatePath: certificatePath, privateKeyPath: keyPath), false)
        }
        let (certificate, key) = try makeSelfSigned(hostnames: hostnames)
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // The key is written first and only then the certificate: a crash in between leaves a
        // key without certificate, which the next start reports instead of silently replacing.
        try PEMFiles.write(key, to: keyPath, mode: 0o600)
        try PEMFiles.write(certificate, to: certificatePath, mode: 0o644)
        return (ServerCertificate(certificatePEM: certificate, privateKeyPEM: key, certificatePath: certificatePath), true)
    }

    static func makeSelfSigned(hostnames: [String], now: Date = Date()) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let (name, extensions) = try serverProfile(hostnames: hostnames)
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey), notValidBefore: now.addingTimeInterval(-3_600),
            notValidAfter: now.addingTimeInterval(Double(validityDays) * 86_400), issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: .init(key))
        return (try certificate.serializeAsPEM().pemString + "\n", key.pemRepresentation + "\n")
    }

    /// 825 days: the longest validity clients such as Apple's still accept for TLS.
    static let validityDays = 825

    /// What every TLS server certificate Airlock makes says — the self-signed HTTPS one and the
    /// node CA's 9443 one: the first host name as CN; SANs for every host name plus 127.0.0.1 and
    /// ::1; serverAuth only.
    static func serverProfile(hostnames: [String]) throws -> (subject: DistinguishedName, extensions: Certificate.Extensions) {
        let subject = try DistinguishedName {
            OrganizationName("Airlock appliance")
            CommonName(hostnames.first ?? "localhost")
        }
        var names: [GeneralName] = hostnames.map { .dnsName($0) }
        names.append(.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])))
        names.append(.ipAddress(ASN1OctetString(contentBytes: Array(repeating: 0, count: 15) + [1])))
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            // ECDSA keys sign the handshake; they never encipher a key, so no keyEncipherment.
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(names)
        }
        return (subject, extensions)
    }
}

/// A certificate problem, phrased for the operator.
public struct CertificateError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
