import AirlockCore
import Foundation

/// The host's own maintenance notice (seed 004 § 29: the agent reports maintenance and
/// evictions): `airlock-agent maintenance start` writes `maintenance.json` in the state
/// directory, the running agent sees it within a second and warns the control plane, which
/// drains the node; `maintenance end` removes it and the drain is lifted. A file rather than a
/// signal, so that the notice survives an agent restart and says why.
public struct MaintenanceNotice: Codable, Sendable, Equatable {
    public var reason: String
    /// When the host goes away, Unix seconds; a warning says how long until then.
    public var startsAt: Int64

    enum CodingKeys: String, CodingKey { case reason, startsAt = "starts_at" }

    public init(reason: String, startsAt: Int64) {
        self.reason = reason
        self.startsAt = startsAt
    }

    static func path(_ state: AgentState) -> String { state.directory + "/maintenance.json" }

    /// Writes the notice (replacing any earlier one). The reason is one line of at most 200
    /// characters: it ends up in the appliance's log and audit trail.
    public static func announce(_ notice: MaintenanceNotice, in state: AgentState) throws {
        let reason = notice.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= 200, !reason.contains(where: \.isNewline) else {
            throw AgentError("the reason must be one line of 1 to 200 characters")
        }
        guard state.isEnrolled else { throw AgentError("\(state.directory) holds no enrolment") }
        var cleaned = notice
        cleaned.reason = reason
        // Whole or not at all, so the running agent never reads half a notice.
        do {
            try AtomicFile.write(try JSONEncoder().encode(cleaned), to: path(state), mode: 0o600)
        } catch {
            throw AgentError("\(error)")
        }
    }

    /// Removes the notice; false if there was none.
    @discardableResult
    public static func end(in state: AgentState) throws -> Bool {
        guard FileManager.default.fileExists(atPath: path(state)) else { return false }
        try FileManager.default.removeItem(atPath: path(state))
        return true
    }

    /// The current notice, or nil. An unreadable file still means maintenance: someone meant it.
    static func current(in state: AgentState) -> MaintenanceNotice? {
        guard let data = FileManager.default.contents(atPath: path(state)) else { return nil }
        return (try? JSONDecoder().decode(MaintenanceNotice.self, from: data))
            ?? MaintenanceNotice(reason: "maintenance (unreadable \(path(state)))", startsAt: 0)
    }
}
