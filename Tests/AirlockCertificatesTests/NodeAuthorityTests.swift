import AirlockTestSupport
import Foundation
import Testing
import X509

@testable import AirlockCertificates

@Suite("Node CA: agent certificates issued from CSRs, identities only the CA can grant")
struct NodeAuthorityTests {
    @Test("the CA is made once, kept with a private key file, and reopened as the same CA")
    func persistence() throws {
        let dir = TemporaryDirectory()
        let (first, created) = try NodeAuthority.openOrCreate(dataDirectory: dir.path)
        let (again, createdAgain) = try NodeAuthority.openOrCreate(dataDirectory: dir.path)
        #expect(created && !createdAgain)
        #expect(first.certificate == again.certificate)
        let mode = try FileManager.default.attributesOfItem(atPath: dir.child("node-ca/ca.key"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let constraints = try #require(try first.certificate.extensions.basicConstraints)
        #expect(constraints == .isCertificateAuthority(maxPathLength: 0))
    }

    @Test("a node's certificate names the node (and its org) and verifies against this CA only")
    func issueAndVerify() async throws {
        let dir = TemporaryDirectory()
        let (authority, _) = try NodeAuthority.openOrCreate(dataDirectory: dir.path)
        let (csr, _) = try NodeKeyRequest.make(commonName: "gpu-07 asks to be org_admin")
        let identity = NodeIdentity(nodeID: "node_01", orgID: "org_acme")
        let leaf = try Certificate(pemEncoded: authority.issueClientCertificate(csrPEM: csr, for: identity))
        #expect(await authority.verifyClient(leaf) == identity)
        // The CSR's subject is ignored: the CA writes the name.
        #expect(leaf.subject.description.contains("node_01"))
        #expect(!leaf.subject.description.contains("org_admin"))

        let shared = try Certificate(pemEncoded: authority.issueClientCertificate(csrPEM: csr, for: NodeIdentity(nodeID: "node_02", orgID: nil)))
        #expect(await authority.verifyClient(shared) == NodeIdentity(nodeID: "node_02", orgID: nil))

        // Another appliance's CA, an expired certificate, and a server certificate are refused.
        let (other, _) = try NodeAuthority.openOrCreate(dataDirectory: TemporaryDirectory().path)
        let foreign = try Certificate(pemEncoded: other.issueClientCertificate(csrPEM: csr, for: identity))
        #expect(await authority.verifyClient(foreign) == nil)
        let expiredAt = Date().addingTimeInterval(Double(NodeAuthority.clientValidityDays + 1) * 86_400)
        #expect(await authority.verifyClient(leaf, now: expiredAt) == nil)
        let server = try Certificate(pemEncoded: authority.issueServerCertificate(hostnames: ["localhost"]).certificatePEM)
        #expect(await authority.verifyClient(server) == nil)
    }

    @Test("garbage, a CSR with a broken signature, and a certificate naming two nodes are refused")
    func hostile() throws {
        let dir = TemporaryDirectory()
        let (authority, _) = try NodeAuthority.openOrCreate(dataDirectory: dir.path)
        let identity = NodeIdentity(nodeID: "node_01", orgID: nil)
        for garbage in ["", "not a csr", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"] {
            #expect(throws: AirlockCertificates.CertificateError.self) { try authority.issueClientCertificate(csrPEM: garbage, for: identity) }
        }
        // Re-sign the CSR body with a different key: the signature no longer matches its key.
        let (csrPEM, _) = try NodeKeyRequest.make(commonName: "gpu")
        let csr = try CertificateSigningRequest(pemEncoded: csrPEM)
        let (otherPEM, _) = try NodeKeyRequest.make(commonName: "gpu")
        let other = try CertificateSigningRequest(pemEncoded: otherPEM)
        let forged = try CertificateSigningRequest(
            version: csr.version, subject: csr.subject, publicKey: other.publicKey, attributes: csr.attributes,
            signatureAlgorithm: csr.signatureAlgorithm, signature: csr.signature)
        let forgedPEM = try forged.serializeAsPEM().pemString
        #expect(throws: AirlockCertificates.CertificateError.self) { try authority.issueClientCertificate(csrPEM: forgedPEM, for: identity) }

        let twoNodes = try Certificate.Extensions {
            SubjectAlternativeNames([.uniformResourceIdentifier("urn:airlock:node:a"), .uniformResourceIdentifier("urn:airlock:node:b")])
        }
        let key = Certificate.PrivateKey(.init())
        let name = try DistinguishedName { CommonName("x") }
        let ambiguous = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey, notValidBefore: Date(), notValidAfter: Date() + 60,
            issuer: name, subject: name, signatureAlgorithm: .ed25519, extensions: twoNodes, issuerPrivateKey: key)
        #expect(NodeIdentity(certificate: ambiguous) == nil)
    }

    @Test("a CA directory with a key that does not match its certificate stops start-up")
    func mismatchedFiles() throws {
        let one = TemporaryDirectory()
        let two = TemporaryDirectory()
        _ = try NodeAuthority.openOrCreate(dataDirectory: one.path)
        _ = try NodeAuthority.openOrCreate(dataDirectory: two.path)
        try FileManager.default.removeItem(atPath: one.child("node-ca/ca.key"))
        try FileManager.default.copyItem(atPath: two.child("node-ca/ca.key"), toPath: one.child("node-ca/ca.key"))
        #expect(throws: AirlockCertificates.CertificateError.self) { try NodeAuthority.openOrCreate(dataDirectory: one.path) }
    }
}
