import Crypto
import Foundation
import SwiftASN1
// The verifier checks validity at the `now` it is given (tests pass other times), which X509
// offers through this SPI since the plain `init(validationTime:)` was deprecated.
@_spi(FixedExpiryValidationTime) import X509

/// A small certificate authority the appliance keeps in one directory of its data dir
/// (`ca.key` 0600, `ca.crt` 0644, the directory 0700), made on first use. Airlock has two: the
/// HTTPS CA (`tls/`), whose certificate clients and agents trust for port 8443, and the node CA
/// (`node-ca/`, `NodeAuthority`) for port 9443. A CA rather than a lone self-signed certificate
/// because swift-nio-ssl's BoringSSL (the agent's TLS) does not accept a non-CA
/// certificate as a trust root, and because the leaf can then be renewed without every
/// client being given a new file.
public struct LocalAuthority: Sendable {
    public let certificate: Certificate
    public let certificatePEM: String
    /// `ca.crt`: the file to hand to whoever must trust what this CA signs.
    public let certificatePath: String
    private let privateKey: P256.Signing.PrivateKey

    static let validityDays = 3_650

    /// The CA in `directory`, made now if neither of its files is there. One file without the
    /// other is an error, never silently replaced: something outside Airlock changed it.
    /// - Parameter name: what the CA is called, in its common name and in error messages.
    public static func openOrCreate(directory: String, name: String, now: Date = Date()) throws -> (LocalAuthority, created: Bool) {
        let certificatePath = directory + "/ca.crt"
        let keyPath = directory + "/ca.key"
        let files = FileManager.default
        if files.fileExists(atPath: certificatePath) || files.fileExists(atPath: keyPath) {
            return (try load(certificatePath: certificatePath, keyPath: keyPath, name: name), false)
        }
        let key = P256.Signing.PrivateKey()
        // A random suffix tells two appliances' CAs apart in a client's trust store.
        let suffix = String(UInt32.random(in: .min ... .max), radix: 16)
        let subject = try DistinguishedName {
            OrganizationName("Airlock appliance")
            CommonName("Airlock \(name) \(suffix)")
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3_600), notValidAfter: now.addingTimeInterval(Double(validityDays) * 86_400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: .init(key))
        let pem = try pem(certificate)
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // The key first: a crash before the certificate is written is reported at the next start,
        // not papered over with a new CA that nobody trusts yet.
        try PEMFiles.write(key.pemRepresentation + "\n", to: keyPath, mode: 0o600)
        try PEMFiles.write(pem, to: certificatePath, mode: 0o644)
        return (LocalAuthority(certificate: certificate, certificatePEM: pem, certificatePath: certificatePath, privateKey: key), true)
    }

    static func load(certificatePath: String, keyPath: String, name: String) throws -> LocalAuthority {
        let pem = try PEMFiles.read(certificatePath, what: "\(name) certificate")
        let keyPEM = try PEMFiles.read(keyPath, what: "\(name) key")
        do {
            let certificate = try Certificate(pemEncoded: pem)
            let key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
            guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
                throw CertificateError("the key does not match the certificate")
            }
            return LocalAuthority(certificate: certificate, certificatePEM: pem, certificatePath: certificatePath, privateKey: key)
        } catch {
            throw CertificateError("\(certificatePath) / \(keyPath) are not a usable \(name): \(error)")
        }
    }

    /// A TLS server certificate and its new key for `hostnames` (plus loopback addresses).
    public func issueServerCertificate(hostnames: [String], now: Date = Date()) throws -> (certificatePEM: String, keyPEM: String) {
        let key = P256.Signing.PrivateKey()
        let (subject, extensions) = try ServerCertificate.serverProfile(hostnames: hostnames)
        let certificate = try sign(publicKey: .init(key.publicKey), subject: subject, extensions: extensions,
                                   days: ServerCertificate.validityDays, now: now)
        return (try Self.pem(certificate), key.pemRepresentation + "\n")
    }

    /// Signs `publicKey` into a certificate this CA issued, valid from five minutes ago (clocks
    /// drift) for `days`.
    func sign(publicKey: Certificate.PublicKey, subject: DistinguishedName, extensions: Certificate.Extensions,
              days: Int, now: Date) throws -> Certificate {
        var extensions = extensions
        let authority = AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        try extensions.append(Certificate.Extension(authority, critical: false))
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: .init(privateKey))
    }

    /// Whether `leaf` was signed by this CA and is within its validity at `now`.
    func issued(_ leaf: Certificate, now: Date = Date()) async -> Bool {
        var verifier = Verifier(rootCertificates: CertificateStore([certificate])) {
            RFC5280Policy(fixedExpiryValidationTime: now)
        }
        guard case .validCertificate = await verifier.validate(leaf: leaf, intermediates: CertificateStore()) else { return false }
        return true
    }

    static func pem(_ certificate: Certificate) throws -> String { try certificate.serializeAsPEM().pemString + "\n" }
}
