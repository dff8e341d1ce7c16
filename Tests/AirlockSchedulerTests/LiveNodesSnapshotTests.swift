import AirlockCore
import AirlockScheduler
import AirlockTestSupport
import Foundation
import Testing

@Suite struct LiveNodesSnapshotTests {
    @Test func theSnapshotSaysWhyANodeDrainsAndIsReadOnlyWhileFresh() throws {
        let fixture = SchedulerFixture()
        let a = fixture.up("a")
        _ = fixture.up("b")
        fixture.registry.setDrain(a.id, .operatorRequest, true, note: "operator")
        fixture.registry.applyLicence(maxNodes: 1, maxGPUs: 10)
        let snapshot = fixture.registry.snapshot(at: fixture.clock.now)
        let byName = Dictionary(uniqueKeysWithValues: snapshot.nodes.map { ($0.name, $0) })
        #expect(byName["a"]?.summary == "draining (operator)")
        #expect(byName["b"]?.summary == "draining (licence)", "a draining node still holds its licence place")

        let dir = TemporaryDirectory()
        try snapshot.write(dataDirectory: dir.path)
        #expect(LiveNodesSnapshot.read(dataDirectory: dir.path, now: fixture.clock.now) == snapshot)
        let mode = try FileManager.default.attributesOfItem(atPath: LiveNodesSnapshot.path(dataDirectory: dir.path))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(LiveNodesSnapshot.read(dataDirectory: dir.path, now: fixture.clock.now.adding(seconds: 31)) == nil, "stale")
        try "{ not json".write(toFile: LiveNodesSnapshot.path(dataDirectory: dir.path), atomically: true, encoding: .utf8)
        #expect(LiveNodesSnapshot.read(dataDirectory: dir.path, now: fixture.clock.now) == nil)
        #expect(LiveNodesSnapshot.read(dataDirectory: TemporaryDirectory().path, now: fixture.clock.now) == nil)
    }
}
