import AirlockTestSupport
import Foundation
import Testing

@testable import AirlockAgent

@Suite struct MaintenanceNoticeTests {
    let dir = TemporaryDirectory("airlock-agent-maintenance")

    /// A state directory that looks enrolled (the notice needs one; the files' contents do not matter here).
    func enrolled() throws -> AgentState {
        let state = AgentState(directory: dir.path)
        try #"{"node_id":"node_0000000000000001","node_name":"gpu-01"}"#.write(toFile: state.identityPath, atomically: true, encoding: .utf8)
        return state
    }

    @Test func announceThenEnd() throws {
        let state = try enrolled()
        #expect(MaintenanceNotice.current(in: state) == nil)
        try MaintenanceNotice.announce(MaintenanceNotice(reason: "  firmware update  ", startsAt: 1_900_000_000), in: state)
        #expect(MaintenanceNotice.current(in: state) == MaintenanceNotice(reason: "firmware update", startsAt: 1_900_000_000))
        let mode = try FileManager.default.attributesOfItem(atPath: dir.child("maintenance.json"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try MaintenanceNotice.end(in: state))
        #expect(try !MaintenanceNotice.end(in: state))
        #expect(MaintenanceNotice.current(in: state) == nil)
    }

    @Test func badReasonsAndUnenrolledHostsAreRefusedAndWriteNothing() throws {
        let unenrolled = AgentState(directory: dir.path)
        #expect(throws: AgentError.self) { try MaintenanceNotice.announce(MaintenanceNotice(reason: "x", startsAt: 0), in: unenrolled) }
        let state = try enrolled()
        for reason in ["", "   ", "two\nlines", String(repeating: "r", count: 201)] {
            #expect(throws: AgentError.self) { try MaintenanceNotice.announce(MaintenanceNotice(reason: reason, startsAt: 0), in: state) }
        }
        #expect(!FileManager.default.fileExists(atPath: dir.child("maintenance.json")))
    }

    @Test func anUnreadableNoticeStillMeansMaintenance() throws {
        let state = try enrolled()
        try "{ not json".write(toFile: dir.child("maintenance.json"), atomically: true, encoding: .utf8)
        #expect(MaintenanceNotice.current(in: state)?.reason.hasPrefix("maintenance (unreadable") == true)
    }
}
