import AirlockAdmin
import AirlockCore
import AirlockIdentity
import AirlockLicensing
import AirlockStore
import AirlockTestSupport
import Testing

/// The licence's limits where admin actions bite: the org count, org-owned nodes, reserved
/// capacity. A refusal says what would allow it and changes nothing.
@Suite struct LicenseEntitlementTests {
    let dir = TemporaryDirectory()
    let actor = AdminActor("cli:alice")

    func admin(_ entitlements: Entitlements) throws -> AdminActions {
        let store = try Store(dataDirectory: dir.path)
        return AdminActions(store: store, hasher: try KeyHasher.loadOrCreate(dataDirectory: dir.path), rotationGraceSeconds: 60,
                            entitlements: { _ in entitlements })
    }

    @Test func theOrgCountIsCappedAndARevokedOrgFreesItsPlace() async throws {
        let admin = try admin(Entitlements(maxGPUs: 1, maxNodes: 1, maxOrgs: 2, reservedCapacityUnits: 0, features: []))
        _ = try await admin.createOrg(name: "a", by: actor)
        let b = try await admin.createOrg(name: "b", by: actor)
        await #expect { try await admin.createOrg(name: "c", by: actor) } throws: { "\($0)".contains("the licence allows 2 orgs") }
        #expect(try await admin.listOrgs().count == 2)
        _ = try await admin.revokeOrg(b.id.rawValue, by: actor)
        _ = try await admin.createOrg(name: "c", by: actor)
    }

    @Test func unlicensedFeaturesAreRefusedNamingTheFeature() async throws {
        let admin = try admin(Entitlements(maxGPUs: 1, maxNodes: 1, maxOrgs: 5, reservedCapacityUnits: 100, features: []))
        _ = try await admin.createOrg(name: "acme", by: actor)
        await #expect { try await admin.enrollNode(name: "gpu-1", org: "acme", zone: nil, by: actor) } throws: {
            "\($0)".contains("'org_owned_nodes'")
        }
        _ = try await admin.enrollNode(name: "gpu-1", org: nil, zone: nil, by: actor)
        await #expect { try await admin.setReservation(org: "acme", model: "m", capacityUnits: 10, by: actor) } throws: {
            "\($0)".contains("'reserved_capacity'")
        }
        #expect(try await admin.listReservations().isEmpty)
        await #expect { try await admin.createEnvironment(org: "acme", name: "eu", zone: "hall-b", by: actor) } throws: {
            "\($0)".contains("'multi_zone'")
        }
        await #expect { try await admin.enrollNode(name: "gpu-2", org: nil, zone: "hall-b", by: actor) } throws: {
            "\($0)".contains("'multi_zone'")
        }
        _ = try await admin.createEnvironment(org: "acme", name: "eu", by: actor)
        await #expect { try await admin.setEnvironmentZone("acme/eu", zone: "hall-b", by: actor) } throws: { "\($0)".contains("'multi_zone'") }
        _ = try await admin.setEnvironmentZone("acme/eu", zone: nil, by: actor)  // back home needs nothing
    }

    @Test func reservedCapacityIsCappedAcrossAllReservations() async throws {
        let admin = try admin(Entitlements(maxGPUs: 1, maxNodes: 1, maxOrgs: 5, reservedCapacityUnits: 100, features: [.reservedCapacity]))
        _ = try await admin.createOrg(name: "acme", by: actor)
        _ = try await admin.setReservation(org: "acme", model: "m", capacityUnits: 60, by: actor)
        await #expect { try await admin.setReservation(org: "acme", model: "n", capacityUnits: 50, by: actor) } throws: {
            "\($0)".contains("allows 100 reserved capacity units")
        }
        // Changing the same reservation counts it once.
        _ = try await admin.setReservation(org: "acme", model: "m", capacityUnits: 100, by: actor)
        _ = try await admin.setReservation(org: "acme", model: "m", capacityUnits: nil, by: actor)
        _ = try await admin.setReservation(org: "acme", model: "n", capacityUnits: 50, by: actor)
    }
}
