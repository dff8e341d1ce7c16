import AirlockTestSupport
import Foundation
import Testing
import X509

@testable import AirlockCertificates

@Suite("HTTPS certificate: issued by the appliance's own CA, issued again when stale, never silently replaced")
struct ServerCertificateTests {
    let dir = TemporaryDirectory()
    let names = ["localhost", "airlock.dc1.example"]

    func leaf(_ certificate: ServerCertificate) throws -> Certificate { try Certificate(pemEncoded: certificate.certificatePEM) }
    func authority() throws -> Certificate { try Certificate(pemEncoded: PEMFiles.read(dir.child("tls/ca.crt"), what: "CA")) }
    func mode(_ path: String) throws -> Int? { try FileManager.default.attributesOfItem(atPath: dir.child(path))[.posixPermissions] as? Int }

    @Test("first start makes the CA and a certificate from it; clients are pointed at the CA file")
    func firstStart() throws {
        let (certificate, provenance) = try ServerCertificate.applianceIssued(dataDirectory: dir.path, hostnames: names)
        #expect(provenance == .createdAuthority)
        #expect(certificate.trustPath == dir.child("tls/ca.crt"))
        #expect(try mode("tls/ca.key") == 0o600 && mode("tls/server.key") == 0o600 && mode("tls") == 0o700)
        let ca = try authority()
        #expect(try ca.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        let issued = try leaf(certificate)
        #expect(issued.issuer == ca.subject && ca.publicKey.isValidSignature(issued.signature, for: issued))
        #expect(try issued.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try issued.extensions.extendedKeyUsage?.contains(.serverAuth) == true)
        // The configuration builds: the key matches the certificate.
        _ = try certificate.tlsConfiguration()
    }

    @Test("the next start reuses the same certificate")
    func reuse() throws {
        let (first, _) = try ServerCertificate.applianceIssued(dataDirectory: dir.path, hostnames: names)
        let (again, provenance) = try ServerCertificate.applianceIssued(dataDirectory: dir.path, hostnames: names.reversed())
        #expect(provenance == .reused)
        #expect(again.certificatePEM == first.certificatePEM && again.privateKeyPEM == first.privateKeyPEM)
    }

    @Test("new host names, an approaching expiry or a broken pair get a new certificate from the same CA")
    func reissue() throws {
        let (first, _) = try ServerCertificate.applianceIssued(dataDirectory: dir.path, hostnames: names)
        let ca = try authority()

        let (renamed, why) = try ServerCertificate.applianceIssued(dataDirectory: dir.path, hostnames: names + ["gpu-gw.example"])
        #expect(why == .reissued("host names changed"))
        #expect(renamed.certificatePEM != first.certificatePEM)

        let later = Date().addingTimeInterval(Double(ServerCertificate.validityDays - ServerCertificate.renewalDays + 1) * 86_400)
        let (renewed, expiring) = try ServerCertificate.applianceIssued(dataDirectory: dir.path, hostnames: names + ["gpu-gw.example"], now: later)
        #expect(expiring == .reissued("expires soon"))
        #expect(try leaf(renewed).notValidAfter > later.addingTimeInterval(800 * 86_400))

        // A crash between writing the new key and the new certificate leaves a pair that does not match.
        let (foreign, _) = try LocalAuthority.openOrCreate(directory: dir.child("elsewhere"), name: "HTTPS CA")
        let (pem, key) = try foreign.issueServerCertificate(hostnames: names + ["gpu-gw.example"])
        try PEMFiles.write(key, to: dir.child("tls/server.key"), mode: 0o600)
        let (_, broken) = try ServerCertificate.applianceIssued(dataDirectory: dir.path, hostnames: names + ["gpu-gw.example"])
        #expect(broken == .reissued("missing or unusable"))

        // A certificate someone else issued, dropped in place of ours.
        try PEMFiles.write(key, to: dir.child("tls/server.key"), mode: 0o600)
        try PEMFiles.write(pem, to: dir.child("tls/server.crt"), mode: 0o644)
        let (_, replaced) = try ServerCertificate.applianceIssued(dataDirectory: dir.path, hostnames: names + ["gpu-gw.example"])
        #expect(replaced == .reissued("not issued by this CA"))

        // Through all of it, the CA clients trust never changed.
        #expect(try authority() == ca)
    }

    @Test("a certificate without its CA, or a CA missing half of itself, stops start-up and changes nothing")
    func refusals() throws {
        // An earlier version's lone self-signed certificate.
        try FileManager.default.createDirectory(atPath: dir.child("tls"), withIntermediateDirectories: true)
        try PEMFiles.write("old certificate", to: dir.child("tls/server.crt"), mode: 0o644)
        #expect(throws: AirlockCertificates.CertificateError.self) {
            try ServerCertificate.applianceIssued(dataDirectory: dir.path, hostnames: names)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.child("tls/ca.crt")))
        #expect(try PEMFiles.read(dir.child("tls/server.crt"), what: "") == "old certificate")

        let other = TemporaryDirectory()
        _ = try ServerCertificate.applianceIssued(dataDirectory: other.path, hostnames: names)
        try FileManager.default.removeItem(atPath: other.child("tls/ca.key"))
        let before = try PEMFiles.read(other.child("tls/server.crt"), what: "")
        #expect(throws: AirlockCertificates.CertificateError.self) {
            try ServerCertificate.applianceIssued(dataDirectory: other.path, hostnames: names + ["new.example"])
        }
        #expect(try PEMFiles.read(other.child("tls/server.crt"), what: "") == before)
    }
}
