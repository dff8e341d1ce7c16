import AirlockCore
import Testing

@Suite struct EntityIDTests {
    @Test func generatedIDsRoundTripAndDiffer() {
        let ids = (0..<1000).map { _ in OrgID.generate() }
        #expect(Set(ids).count == 1000)
        for id in ids.prefix(20) {
            #expect(OrgID(rawValue: id.rawValue) == id)
            #expect(id.rawValue.count == 20)
        }
    }

    @Test(arguments: ["", "org_", "org_123", "org_0123456789ABCDEF", "env_0123456789abcdef", "org_0123456789abcdeg", "org_0123456789abcdef0"])
    func rejectsMalformedIDs(text: String) {
        #expect(OrgID(rawValue: text) == nil)
    }
}

@Suite struct TenantStatusTests {
    @Test func revocationIsTerminal() {
        for next in TenantStatus.allCases {
            #expect(!TenantStatus.revoked.canTransition(to: next))
        }
    }

    @Test func suspendAndResumeAreReversible() {
        #expect(TenantStatus.active.canTransition(to: .suspended))
        #expect(TenantStatus.suspended.canTransition(to: .active))
        #expect(!TenantStatus.active.canTransition(to: .active))
    }
}
