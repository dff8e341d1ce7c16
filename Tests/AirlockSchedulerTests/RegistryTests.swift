import AirlockCore
@testable import AirlockScheduler
import Testing

@Suite struct RegistryTests {
    @Test func nodesJoinThenBecomeActiveWhenTheEngineIsReady() {
        let fixture = SchedulerFixture()
        let node = fixture.up("a", active: false)
        #expect(node.state == .joining)
        fixture.registry.heartbeat(node.id, engineReady: true, engine: nil)
        #expect(node.state == .active)
        fixture.registry.heartbeat(node.id, engineReady: false, engine: nil)
        #expect(node.state == .joining)
        #expect(fixture.transitions.withLock { $0.map(\.to) } == [.joining, .active, .joining])
    }

    @Test func silenceForFifteenSecondsMakesANodeDeadAndAHeartbeatRevivesIt() {
        let fixture = SchedulerFixture()
        let node = fixture.up("a")
        fixture.clock.advance(seconds: 15)
        fixture.registry.sweep()
        #expect(node.state == .active, "exactly 15 s is still alive")
        fixture.clock.advance(seconds: 1)
        fixture.registry.sweep()
        #expect(node.state == .dead)
        #expect(fixture.plan(org: .generate()).isEmpty)
        fixture.registry.heartbeat(node.id, engineReady: true, engine: nil)
        #expect(node.state == .active)
    }

    @Test func aLostStreamMakesANodeDeadAtOnceAndOnlyRegisteringRevivesIt() {
        let fixture = SchedulerFixture()
        let node = fixture.up("a")
        fixture.registry.disconnected(node.id)
        #expect(node.state == .dead)
        #expect(fixture.transitions.withLock { $0.last?.reason } == "connection lost")
        #expect(fixture.plan(org: .generate()).isEmpty)
        // A late heartbeat from the gone stream changes nothing; a new registration does.
        fixture.registry.heartbeat(node.id, engineReady: true, engine: nil)
        #expect(node.state == .dead)
        let again = fixture.up("a")
        #expect(again === node && node.state == .active)
    }

    @Test func nodesBeyondTheLicenceAreRegisteredButNotScheduledFirstComeFirstLicensed() {
        let fixture = SchedulerFixture()
        func node(_ name: String, gpus: Int) -> LiveNode {
            fixture.clock.advance(seconds: 1)
            let live = fixture.registry.register(
                NodeProfile(id: "node_" + name, name: name, orgID: nil, zone: "home", engineURL: "http://127.0.0.1:1",
                            models: ["m"], capacityTokensPerSecond: 1_000, gpuCount: gpus), operatorDraining: false)
            fixture.registry.heartbeat(live.id, engineReady: true, engine: nil)
            return live
        }
        let a = node("a", gpus: 2), b = node("b", gpus: 2), c = node("c", gpus: 2)
        fixture.registry.applyLicence(maxNodes: 2, maxGPUs: 100)
        #expect([a.state, b.state, c.state] == [.active, .active, .draining])
        #expect(c.drainReasons == .license)
        #expect(fixture.plan(org: .generate()).sorted() == ["a", "b"])
        // The GPU count binds too.
        fixture.registry.applyLicence(maxNodes: 10, maxGPUs: 5)
        #expect([a.state, b.state, c.state] == [.active, .active, .draining])
        // A dead node holds no place; coming back, it has its place again, first come first licensed.
        fixture.registry.disconnected(a.id)
        fixture.registry.applyLicence(maxNodes: 2, maxGPUs: 100)
        #expect([a.state, b.state, c.state] == [.dead, .active, .active])
        _ = fixture.registry.register(a.profile, operatorDraining: false)
        fixture.registry.heartbeat(a.id, engineReady: true, engine: nil)
        fixture.registry.applyLicence(maxNodes: 2, maxGPUs: 100)
        #expect([a.state, b.state, c.state] == [.active, .active, .draining])
        // A larger licence lifts it.
        fixture.registry.applyLicence(maxNodes: 3, maxGPUs: 6)
        #expect([a.state, b.state, c.state] == [.active, .active, .active])
    }

    @Test func drainReasonsAreLiftedOnlyByTheirOwnSource() {
        let fixture = SchedulerFixture()
        let node = fixture.up("a")
        fixture.registry.setDrain(node.id, .operatorRequest, true, note: "operator")
        fixture.registry.metrics(node.id, NodeMetrics(maxTemperatureCelsius: 95, oomEvents: 0, latencyP50Millis: nil))
        #expect(node.state == .draining)
        fixture.registry.setDrain(node.id, .operatorRequest, false, note: "resume")
        #expect(node.state == .draining, "still too hot")
        fixture.registry.metrics(node.id, NodeMetrics(maxTemperatureCelsius: 70, oomEvents: 0, latencyP50Millis: nil))
        #expect(node.state == .active)
    }

    @Test func healthRulesDrainOnHeatOOMSpikesAndLatencyOverThreeTimesBaseline() {
        let fixture = SchedulerFixture()
        let node = fixture.up("a")
        func report(_ temperature: Double? = 60, oom: Int = 0, latency: Double? = nil) -> NodeLiveState {
            fixture.registry.metrics(node.id, NodeMetrics(maxTemperatureCelsius: temperature, oomEvents: oom, latencyP50Millis: latency))
            return node.state
        }
        #expect(report(91) == .draining)
        #expect(report() == .active)
        #expect(report(oom: 2) == .active)
        #expect(report(oom: 3) == .draining)
        #expect(report(latency: 200) == .active, "the first reading sets the baseline")
        #expect(report(latency: 500) == .active)
        #expect(report(latency: 800) == .draining, "over 3× the ~237 ms baseline")
        #expect(report(latency: 250) == .active)
        #expect(report(nil, latency: 90) == .active)
        #expect(fixture.registry.status(of: node).healthNote == nil)
    }

    @Test func aNodeThatRegistersAgainKeepsItsInFlightCountAndTakesTheNewProfile() {
        let fixture = SchedulerFixture()
        let node = fixture.up("a")
        node.started()
        let again = fixture.registry.register(
            NodeProfile(id: node.id, name: "a", orgID: nil, zone: "home", engineURL: "http://127.0.0.1:2",
                        models: ["m", "n"], capacityTokensPerSecond: 2_000),
            operatorDraining: true)
        #expect(again === node)
        #expect(node.requestsInFlight == 1)
        #expect(node.engineURL == "http://127.0.0.1:2")
        #expect(node.state == .draining, "the node row says draining")
        #expect(fixture.registry.placement.models == ["m", "n"])
    }

    @Test func removedNodesAreDeadAndOutOfThePlacement() {
        let fixture = SchedulerFixture()
        let node = fixture.up("a")
        fixture.registry.remove(node.id, reason: "revoked")
        #expect(node.state == .dead)
        #expect(fixture.registry.node(id: node.id) == nil)
        #expect(!fixture.registry.placement.serves("m", for: .generate()))
        #expect(!fixture.registry.heartbeat(node.id, engineReady: true, engine: nil), "a removed node's heartbeat is refused")
    }

    @Test func loadCountsRequestsAtOnceAndLearnsTheirWeightFromHeartbeats() {
        let fixture = SchedulerFixture()
        let node = fixture.up("a", capacity: 1_600)
        #expect(node.load == 0)
        node.started()
        #expect(node.load == 1.0 / 16, "nominal: capacity shared by 16 requests")
        fixture.registry.heartbeat(node.id, engineReady: true, engine: (tokensPerSecond: 400, requests: 1))
        #expect(node.load == 0.25)
        node.started()
        #expect(node.load == 0.5, "the second request weighs what the first was measured at")
        node.finished()
        node.finished()
        #expect(node.load == 0)
    }

    @Test func tryStartStopsAtTheLimitAndCountsLikeStarted() {
        let fixture = SchedulerFixture()
        let node = fixture.up("a", capacity: 1_600)
        #expect(node.tryStart(limit: 2) && node.tryStart(limit: 2))
        #expect(!node.tryStart(limit: 2), "a third request at a limit of 2")
        #expect(node.requestsInFlight == 2 && node.load == 2.0 / 16)
        node.finished()
        #expect(node.tryStart(limit: 2), "a slot freed is taken again")
        #expect(!node.tryStart(limit: 0))
    }

    @Test func concurrentTryStartsNeverPassTheLimit() async {
        let node = SchedulerFixture().up("a")
        let limit = 37
        let taken = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<1_000).reduce(0) { count, _ in count + (node.tryStart(limit: limit) ? 1 : 0) } }
            }
            return await group.reduce(0, +)
        }
        #expect(taken == limit && node.requestsInFlight == limit)
    }
}

@Suite struct RegistryRestrictTests {
    @Test func restrictWithdrawsModelsWithoutTouchingStateOrLoad() {
        let fixture = SchedulerFixture()
        let node = fixture.registry.register(
            NodeProfile(id: "node_a", name: "a", orgID: nil, zone: "home", engineURL: "http://127.0.0.1:1",
                        models: ["m", "n"], capacityTokensPerSecond: 1_600),
            operatorDraining: false)
        fixture.registry.heartbeat(node.id, engineReady: true, engine: nil)
        node.started()
        fixture.registry.restrict(node.id, to: ["m"])
        #expect(node.profile.models == ["m"])
        #expect(node.state == .active && node.load == 1.0 / 16)
        #expect(fixture.registry.placement.models == ["m"])
        #expect(fixture.plan("n", org: .generate()).isEmpty)
        #expect(fixture.plan("m", org: .generate()) == ["a"])
    }
}
