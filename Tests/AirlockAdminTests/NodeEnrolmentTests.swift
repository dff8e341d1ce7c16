import AirlockAdmin
import AirlockCore
import AirlockStore
import AirlockTestSupport
import Testing

@Suite("Node enrolment: one-time tokens, audited, refused without changing anything")
struct NodeEnrolmentTests {
    private let fakeCertificate: @Sendable (Node) throws -> (certificatePEM: String, sha256: String) = { node in
        ("PEM for \(node.id.rawValue)", "ab12")
    }

    @Test("a token enrols its node once; the node is recorded with its certificate's fingerprint")
    func enrolOnce() async throws {
        let f = try AdminFixture()
        _ = try await f.admin.createOrg(name: "acme", by: f.actor)
        let issued = try await f.admin.enrollNode(name: "gpu-07", org: "acme", zone: "hall-a", by: f.actor)
        #expect(issued.node.enrolment == .pending && issued.node.orgID != nil && issued.node.zone == "hall-a")
        #expect(issued.token.hasPrefix(issued.node.id.rawValue + "."))

        let (node, pem) = try await f.admin.redeemEnrolment(token: issued.token, issue: fakeCertificate)
        #expect(node.enrolment == .enrolled && node.certificateSHA256 == "ab12" && pem.contains(node.id.rawValue))
        // The same token again: refused, and the node is unchanged.
        await #expect(throws: EnrolmentRefused.self) { try await f.admin.redeemEnrolment(token: issued.token, issue: fakeCertificate) }
        let stored = try await f.store.read { try $0.node(named: "gpu-07") }
        #expect(stored == node)
    }

    @Test("unknown, malformed, wrong-secret, expired and revoked tokens are refused and audited")
    func refusals() async throws {
        let f = try AdminFixture()
        let issued = try await f.admin.enrollNode(name: "gpu-01", org: nil, zone: nil, validForSeconds: 600, by: f.actor)
        let wrongSecret = issued.node.id.rawValue + "." + String(repeating: "A", count: 32)
        let otherNode = NodeID.generate().rawValue + "." + String(repeating: "A", count: 32)
        let before = try f.auditRows()
        for token in ["", "garbage", wrongSecret, otherNode, issued.token + "x", String(issued.token.dropLast())] {
            await #expect(throws: EnrolmentRefused.self) { try await f.admin.redeemEnrolment(token: token, issue: fakeCertificate) }
        }
        #expect(try f.auditRows() == before + 6)
        #expect(try await f.store.read { try $0.node(named: "gpu-01") }?.enrolment == .pending)

        f.clock.advance(seconds: 601)
        await #expect(throws: EnrolmentRefused.self) { try await f.admin.redeemEnrolment(token: issued.token, issue: fakeCertificate) }

        let second = try await f.admin.enrollNode(name: "gpu-02", org: nil, zone: nil, by: f.actor)
        _ = try await f.admin.revokeNode("gpu-02", by: f.actor)
        await #expect(throws: EnrolmentRefused.self) { try await f.admin.redeemEnrolment(token: second.token, issue: fakeCertificate) }
    }

    @Test("a failure while signing enrols nothing")
    func signingFailure() async throws {
        struct Boom: Error {}
        let f = try AdminFixture()
        let issued = try await f.admin.enrollNode(name: "gpu-03", org: nil, zone: nil, by: f.actor)
        await #expect(throws: Boom.self) { try await f.admin.redeemEnrolment(token: issued.token, issue: { _ in throw Boom() }) }
        let (node, _) = try await f.admin.redeemEnrolment(token: issued.token, issue: fakeCertificate)
        #expect(node.enrolment == .enrolled)
    }

    @Test("bad names, duplicate nodes, revoked orgs and silly lifetimes are refused")
    func badInput() async throws {
        let f = try AdminFixture()
        _ = try await f.admin.enrollNode(name: "gpu-04", org: nil, zone: nil, by: f.actor)
        let rows = try f.auditRows()
        await #expect(throws: AirlockError.self) { try await f.admin.enrollNode(name: "GPU-04", org: nil, zone: nil, by: f.actor) }
        await #expect(throws: AirlockError.self) { try await f.admin.enrollNode(name: "bad name!", org: nil, zone: nil, by: f.actor) }
        await #expect(throws: AirlockError.self) { try await f.admin.enrollNode(name: "gpu-05", org: "nope", zone: nil, by: f.actor) }
        await #expect(throws: AirlockError.self) {
            try await f.admin.enrollNode(name: "gpu-05", org: nil, zone: nil, validForSeconds: 5, by: f.actor)
        }
        _ = try await f.admin.createOrg(name: "gone", by: f.actor)
        _ = try await f.admin.revokeOrg("gone", by: f.actor)
        await #expect(throws: AirlockError.self) { try await f.admin.enrollNode(name: "gpu-05", org: "gone", zone: nil, by: f.actor) }
        #expect(try f.auditRows() == rows + 2)  // only the org create + revoke
    }

    @Test("drain and resume are recorded; a revoked node can be neither")
    func drain() async throws {
        let f = try AdminFixture()
        let issued = try await f.admin.enrollNode(name: "gpu-06", org: nil, zone: nil, by: f.actor)
        #expect(try await f.admin.setNodeDraining("gpu-06", true, by: f.actor).draining)
        #expect(try await !f.admin.setNodeDraining(issued.node.id.rawValue, false, by: f.actor).draining)
        // Draining a pending node keeps its token usable.
        _ = try await f.admin.setNodeDraining("gpu-06", true, by: f.actor)
        #expect(try await f.admin.redeemEnrolment(token: issued.token, issue: fakeCertificate).node.draining)
        _ = try await f.admin.revokeNode("gpu-06", by: f.actor)
        await #expect(throws: AirlockError.self) { try await f.admin.setNodeDraining("gpu-06", false, by: f.actor) }
        await #expect(throws: AirlockError.self) { try await f.admin.revokeNode("gpu-06", by: f.actor) }
    }
}
