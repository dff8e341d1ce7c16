import AirlockAdmin
import AirlockCertificates
import AirlockCore
import AirlockIdentity
import AirlockNodeControl
import AirlockStore
import AirlockTestSupport
import Foundation
import Logging
import Testing
import X509

/// Port 9443's judge, against a real store and a real node CA: only the certificate issued to
/// an enrolled node at its enrolment, naming that node's org, gets in; every refusal is audited.
@Suite struct NodeGateTests {
    let dir = TemporaryDirectory()
    let store: Store
    let admin: AdminActions
    let authority: NodeAuthority
    let gate: NodeGate
    let actor = AdminActor("test:admin")

    init() throws {
        store = try Store(dataDirectory: dir.path)
        admin = AdminActions(store: store, hasher: try KeyHasher.loadOrCreate(dataDirectory: dir.path),
                             clock: ManualClock().wallClock, rotationGraceSeconds: 0)
        (authority, _) = try NodeAuthority.openOrCreate(dataDirectory: dir.path)
        gate = NodeGate(authority: authority, admin: admin, logger: Logger(label: "test"))
    }

    /// Enrols `name` the way the HTTPS route does and returns the certificate it was issued.
    func enrolled(_ name: String, org: String? = nil) async throws -> (Node, Certificate) {
        let issued = try await admin.enrollNode(name: name, org: org, zone: nil, by: actor)
        let (csr, _) = try NodeKeyRequest.make(commonName: name)
        let authority = authority
        let (node, pem) = try await admin.redeemEnrolment(token: issued.token) { node in
            try authority.issueClientCertificateWithFingerprint(
                csrPEM: csr, for: NodeIdentity(nodeID: node.id.rawValue, orgID: node.orgID?.rawValue))
        }
        return (node, try Certificate(pemEncoded: pem))
    }

    func certificate(for identity: NodeIdentity, by ca: NodeAuthority? = nil, at now: Date = Date()) throws -> Certificate {
        let (csr, _) = try NodeKeyRequest.make(commonName: "gpu")
        return try Certificate(pemEncoded: (ca ?? authority).issueClientCertificate(csrPEM: csr, for: identity, now: now))
    }

    func refusals() throws -> Int {
        try Tampering.count(databasePath: store.path, "SELECT count(*) FROM audit_log WHERE action = 'node.connect_refused'")
    }

    @Test func theCertificateIssuedAtEnrolmentGetsIn() async throws {
        let (node, certificate) = try await enrolled("gpu-01")
        #expect(await gate.admit(certificate, peer: "test")?.id == node.id)
        _ = try await admin.createOrg(name: "acme", by: actor)
        let (owned, ownedCertificate) = try await enrolled("gpu-02", org: "acme")
        #expect(await gate.admit(ownedCertificate, peer: "test")?.id == owned.id)
        #expect(try refusals() == 0)
    }

    @Test func everyOtherCertificateIsRefusedAndAudited() async throws {
        let acme = try await admin.createOrg(name: "acme", by: actor)
        let (shared, _) = try await enrolled("gpu-shared")
        let (owned, _) = try await enrolled("gpu-acme", org: "acme")
        let (revoked, revokedCertificate) = try await enrolled("gpu-revoked")
        _ = try await admin.revokeNode(revoked.id.rawValue, by: actor)
        let pending = try await admin.enrollNode(name: "gpu-pending", org: nil, zone: nil, by: actor).node
        let (foreign, _) = try NodeAuthority.openOrCreate(dataDirectory: TemporaryDirectory().path)
        let yearsAgo = Date().addingTimeInterval(-2 * 365 * 86_400)

        let hostile: [(String, Certificate)] = [
            ("another appliance's CA", try certificate(for: NodeIdentity(nodeID: shared.id.rawValue, orgID: nil), by: foreign)),
            ("expired", try certificate(for: NodeIdentity(nodeID: shared.id.rawValue, orgID: nil), at: yearsAgo)),
            ("a second certificate for an enrolled node", try certificate(for: NodeIdentity(nodeID: shared.id.rawValue, orgID: nil))),
            ("an org's certificate claiming a shared node", try certificate(for: NodeIdentity(nodeID: shared.id.rawValue, orgID: acme.id.rawValue))),
            ("no org for an org-owned node", try certificate(for: NodeIdentity(nodeID: owned.id.rawValue, orgID: nil))),
            ("a revoked node's own certificate", revokedCertificate),
            ("a pending node", try certificate(for: NodeIdentity(nodeID: pending.id.rawValue, orgID: nil))),
            ("a node that does not exist", try certificate(for: NodeIdentity(nodeID: "node_00000000000000ff", orgID: nil))),
        ]
        for (index, (what, certificate)) in hostile.enumerated() {
            #expect(await gate.admit(certificate, peer: "test") == nil, "\(what) got in")
            #expect(try refusals() == index + 1, "\(what) was not audited")
        }
        // The node rows are as they were: a refusal changes nothing but the audit log.
        #expect(try await admin.node(shared.id.rawValue) == shared)
        #expect(try await admin.node(owned.id.rawValue) == owned)
    }
}
