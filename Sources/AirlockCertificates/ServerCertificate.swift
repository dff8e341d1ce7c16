import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// The certificate and key `airlockd` serves HTTPS with: the customer's, when airlock.toml names
/// them, or one issued by the appliance's own HTTPS CA (`tls/ca.crt`), made on first start and
/// kept in the data dir, so clients given that CA file keep working across restarts and renewals.
public struct ServerCertificate: Sendable {
    public let certificatePEM: String
    public let privateKeyPEM: String
    /// The file clients should trust (`AIRLOCK_CA_FILE`, `--appliance-ca`): `tls/ca.crt` for the
    /// appliance's own certificate, the configured chain file for a customer's.
    public let trustPath: String

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
        let loaded = ServerCertificate(certificatePEM: certificate, privateKeyPEM: key, trustPath: certificatePath)
        do {
            // Building the context checks what parsing alone does not: that the key matches the
            // certificate. Done here, once, so a bad pair stops start-up with this message.
            _ = try NIOSSLContext(configuration: loaded.tlsConfiguration())
        } catch {
            throw CertificateError("\(certificatePath) / \(privateKeyPath) are not a usable PEM certificate and key: \(error)")
        }
        return loaded
    }

    /// What `applianceIssued` did about the certificate.
    public enum Provenance: Sendable, Equatable {
        /// A new HTTPS CA and a certificate from it: clients need `tls/ca.crt`.
        case createdAuthority
        /// A new certificate from the existing CA, for the reason given; clients notice nothing.
        case reissued(String)
        case reused
    }

    /// The certificate in `<dataDirectory>/tls/` (server.crt, server.key), issued by the HTTPS
    /// CA beside it (ca.crt, ca.key), both made now if there are none. The certificate is issued
    /// again — silently for clients, who trust the CA — when it is missing, unusable, not from
    /// this CA, within `renewalDays` of expiry, or for other host names than `hostnames`.
    public static func applianceIssued(dataDirectory: String, hostnames: [String], now: Date = Date()) throws
        -> (ServerCertificate, Provenance)
    {
        let directory = dataDirectory + "/tls"
        let certificatePath = directory + "/server.crt"
        let keyPath = directory + "/server.key"
        let files = FileManager.default
        let hasAuthority = files.fileExists(atPath: directory + "/ca.crt") || files.fileExists(atPath: directory + "/ca.key")
        if !hasAuthority, files.fileExists(atPath: certificatePath) || files.fileExists(atPath: keyPath) {
            throw CertificateError("""
                \(directory) holds a certificate but not the HTTPS CA that issued it (made by an earlier version?): \
                stop, move \(directory) aside and start again to make a CA and a certificate (clients then trust \
                \(directory)/ca.crt), or set api.tls_certificate and api.tls_private_key
                """)
        }
        let (authority, created) = try LocalAuthority.openOrCreate(directory: directory, name: "HTTPS CA", now: now)
        let reason = created ? "new CA" : staleness(certificatePath: certificatePath, keyPath: keyPath, authority: authority,
                                                    hostnames: hostnames, now: now)
        if let reason {
            let (certificate, key) = try authority.issueServerCertificate(hostnames: hostnames, now: now)
            // Key first: a crash between the two leaves a pair that does not match, which the next
            // start finds unusable and issues again.
            try PEMFiles.write(key, to: keyPath, mode: 0o600)
            try PEMFiles.write(certificate, to: certificatePath, mode: 0o644)
            let issued = ServerCertificate(certificatePEM: certificate, privateKeyPEM: key, trustPath: authority.certificatePath)
            return (issued, created ? .createdAuthority : .reissued(reason))
        }
        let current = try load(certificatePath: certificatePath, privateKeyPath: keyPath)
        return (ServerCertificate(certificatePEM: current.certificatePEM, privateKeyPEM: current.privateKeyPEM,
                                  trustPath: authority.certificatePath), .reused)
    }

    /// Issue the certificate again this many days before it expires: restarts are rare on an
    /// appliance, and a month leaves room for one.
    static let renewalDays = 30

    /// Why the certificate in the files must be issued again, or nil if it is good.
    private static func staleness(certificatePath: String, keyPath: String, authority: LocalAuthority,
                                  hostnames: [String], now: Date) -> String? {
        guard let current = try? load(certificatePath: certificatePath, privateKeyPath: keyPath),
              let leaf = try? Certificate(pemEncoded: current.certificatePEM) else {
            return "missing or unusable"
        }
        guard leaf.issuer == authority.certificate.subject,
              authority.certificate.publicKey.isValidSignature(leaf.signature, for: leaf) else {
            return "not issued by this CA"
        }
        if leaf.notValidAfter < now.addingTimeInterval(Double(renewalDays) * 86_400) { return "expires soon" }
        var names: Set<String> = []
        for case let .dnsName(name) in (try? leaf.extensions.subjectAlternativeNames) ?? SubjectAlternativeNames([]) {
            names.insert(name)
        }
        return names == Set(hostnames) ? nil : "host names changed"
    }

    /// 825 days: the longest validity clients such as Apple's still accept for TLS.
    static let validityDays = 825

    /// What every TLS server certificate Airlock makes says — the HTTPS one and the 9443 one: the first host name as CN; SANs for every host name plus 127.0.0.1 and
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
