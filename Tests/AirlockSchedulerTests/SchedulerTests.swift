import AirlockCore
@testable import AirlockScheduler
import Testing

@Suite struct SchedulerTests {
    @Test func picksTheLeastLoadedActiveNodeAndListsUpToThreeForFailover() {
        let fixture = SchedulerFixture()
        let (a, b, c, _) = (fixture.up("a"), fixture.up("b"), fixture.up("c"), fixture.up("d"))
        let org = OrgID.generate()
        a.started(); a.started()
        b.started()
        c.started(); c.started(); c.started()
        #expect(fixture.plan(org: org) == ["d", "b", "a"])
        fixture.up("e", active: false)
        fixture.up("f", model: "other")
        #expect(!fixture.plan(org: org).contains("e"))
        #expect(fixture.plan("nope", org: org).isEmpty)
    }

    @Test func aNodeAtTheConnectionCapIsPlannedAfterEveryNodeWithRoom() {
        // d reports a high load from traffic of its own; a, b and c are lightly loaded but each
        // already holds the cap of 2 requests. Planned by load alone, the three tries would all
        // go to full nodes and the request would be refused although d has room.
        func scenario(cap: Int) -> [String] {
            var settings = SchedulerSettings()
            settings.connectionCap = cap
            let fixture = SchedulerFixture(settings: settings)
            let full = [fixture.up("a"), fixture.up("b"), fixture.up("c")]
            fixture.up("d").report(tokensPerSecond: 500, engineRequests: 8)
            for node in full {
                #expect(node.tryStart(limit: 2) && node.tryStart(limit: 2) && !node.tryStart(limit: 2))
            }
            return fixture.plan(org: .generate())
        }
        #expect(scenario(cap: .max) == ["a", "b", "c"])
        #expect(scenario(cap: 2) == ["d", "a", "b"])
    }

    @Test func aFullRememberedNodeDoesNotKeepItsPrefix() {
        var settings = SchedulerSettings()
        settings.connectionCap = 1
        let fixture = SchedulerFixture(settings: settings)
        let (a, _) = (fixture.up("a"), fixture.up("b"))
        let org = OrgID.generate()
        #expect(fixture.plan(org: org, prefix: 7).first == "a")
        #expect(a.tryStart(limit: 1))
        #expect(fixture.plan(org: org, prefix: 7) == ["b", "a"])
    }

    @Test func drainingAndDeadNodesGetNothing() {
        let fixture = SchedulerFixture()
        let a = fixture.up("a")
        fixture.up("b")
        fixture.registry.setDrain(a.id, .operatorRequest, true, note: "drain")
        #expect(fixture.plan(org: .generate()) == ["b"])
    }

    @Test func orgOwnedNodesServeOnlyTheirOrgAndComeFirstForIt() {
        let fixture = SchedulerFixture()
        let (bank, other) = (OrgID.generate(), OrgID.generate())
        let own = fixture.up("own", org: bank)
        fixture.up("shared")
        own.started(); own.started(); own.started()
        #expect(fixture.plan(org: bank) == ["own", "shared"], "its lane first, even when busier")
        #expect(fixture.plan(org: other) == ["shared"])
        fixture.up("solo", model: "private", org: bank)
        #expect(fixture.plan("private", org: other).isEmpty)
        #expect(!fixture.registry.placement.serves("private", for: other))
        #expect(fixture.registry.placement.models(for: other) == ["m"])
        #expect(fixture.registry.placement.models(for: bank) == ["m", "private"])
    }

    @Test func fallbackZonesComeInConfiguredOrderAfterTheHomeZone() {
        var settings = SchedulerSettings()
        settings.fallbackZones = ["far", "near", "home"]
        let fixture = SchedulerFixture(settings: settings)
        let org = OrgID.generate()
        let home = fixture.up("home-1")
        fixture.up("far-1", zone: "far")
        fixture.up("near-1", zone: "near")
        fixture.up("near-2", zone: "near")
        fixture.up("elsewhere", zone: "unlisted")
        #expect(fixture.plan(org: org) == ["home-1", "far-1", "near-1"])
        fixture.registry.setDrain(home.id, .agent, true, note: "maintenance")
        #expect(fixture.plan(org: org) == ["far-1", "near-1", "near-2"])
    }

    @Test func prefixAffinityKeepsANodeWithinTheMarginAndLetsGoBeyondIt() {
        let fixture = SchedulerFixture()
        let org = OrgID.generate()
        let a = fixture.up("a", capacity: 1_600)
        let b = fixture.up("b", capacity: 1_600)
        b.started()
        #expect(fixture.plan(org: org, prefix: 42).first == "a")
        // a: +3 requests = 0.1875 load, b: 0.0625. Within the 0.25 margin: stays on a.
        a.started(); a.started(); a.started()
        let sticky = fixture.scheduler.plan(PlacementRequest(model: "m", orgID: org, zone: "home", reserved: false, prefix: 42))
        #expect(sticky.nodes.map(\.name) == ["a", "b"])
        #expect(sticky.affinity)
        // Three more on a: 0.375 vs 0.0625 is beyond the margin: the least loaded wins and is remembered.
        a.started(); a.started(); a.started()
        #expect(fixture.plan(org: org, prefix: 42) == ["b", "a"])
        #expect(fixture.plan(org: org, prefix: 42).first == "b")
        #expect(fixture.scheduler.affinityStats.lookups == 4)
        #expect(fixture.plan(org: org, prefix: 7).first == "b", "an unknown prefix gets the least loaded")
    }

    @Test func withoutTheLicensedFeaturePrefixesDoNotSteerPlacement() {
        let fixture = SchedulerFixture()
        let org = OrgID.generate()
        let a = fixture.up("a", capacity: 1_600)
        _ = fixture.up("b", capacity: 1_600)
        #expect(fixture.plan(org: org, prefix: 42).first == "a")
        a.started()
        fixture.scheduler.enablePrefixRouting(false)
        let plan = fixture.scheduler.plan(PlacementRequest(model: "m", orgID: org, zone: "home", reserved: false, prefix: 42))
        #expect(plan.nodes.first?.name == "b" && !plan.affinity)
        fixture.scheduler.enablePrefixRouting(true)
        #expect(fixture.plan(org: org, prefix: 42).first == "a", "remembered from before: within the margin")
    }

    @Test func affinityForgetsAfterItsTTLAndWhenFull() {
        var settings = SchedulerSettings()
        settings.affinityEntries = 2
        let fixture = SchedulerFixture(settings: settings)
        let org = OrgID.generate()
        let a = fixture.up("a")
        fixture.up("b")
        #expect(fixture.plan(org: org, prefix: 1).first == "a")
        a.started()
        #expect(fixture.plan(org: org, prefix: 1).first == "a")
        fixture.clock.advance(seconds: 301)
        fixture.registry.heartbeat("node_a", engineReady: true, engine: nil)
        fixture.registry.heartbeat("node_b", engineReady: true, engine: nil)
        #expect(fixture.plan(org: org, prefix: 1).first == "b", "forgotten after 5 minutes")
        #expect(fixture.plan(org: org, prefix: 2).first == "b")
        #expect(fixture.plan(org: org, prefix: 3).first == "b")
        a.finished()
        fixture.up("b").started(); fixture.up("b").started()
        #expect(fixture.plan(org: org, prefix: 1).first == "a", "prefix 1 was evicted by 2 and 3")
    }

    @Test func serverlessTrafficIsShedAtTheConfiguredLoadButReservedTrafficIsNot() {
        var settings = SchedulerSettings()
        settings.shedLoad = 0.1
        let fixture = SchedulerFixture(settings: settings)
        let org = OrgID.generate()
        let a = fixture.up("a", capacity: 1_600)
        a.started(); a.started()
        let shed = fixture.scheduler.plan(PlacementRequest(model: "m", orgID: org, zone: "home", reserved: false, prefix: nil))
        #expect(shed.overloaded && shed.nodes.isEmpty)
        #expect(fixture.plan(org: org, reserved: true) == ["a"])
    }
}
