import Foundation

/// What the running daemon knows about its nodes — live state, load, why a node is draining —
/// written every 5 s to `<data dir>/run/nodes.json` so that `airlock node list` can show it.
/// The CLI reads the file and never talks to the daemon; a snapshot older than `maxAge` is
/// treated as absent (the daemon is not running, or is stuck).
public struct LiveNodesSnapshot: Codable, Sendable, Equatable {
    public var writtenAt: UnixMillis
    public var nodes: [Entry]

    public struct Entry: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        /// joining, active, draining, dead.
        public var state: String
        public var zone: String
        public var models: [String]
        public var load: Double
        public var requestsInFlight: Int
        public var lastHeartbeat: UnixMillis
        /// Why it is draining: operator, agent, health, licence.
        public var drainReasons: [String]
        public var note: String?
        public var gpus: Int
        /// The hottest GPU and the GPU memory in use / in all, from the last metrics report.
        public var gpuTemperatureCelsius: Double?
        public var gpuMemoryUsedMiB: UInt64?
        public var gpuMemoryTotalMiB: UInt64?

        enum CodingKeys: String, CodingKey {
            case id, name, state, zone, models, load, requestsInFlight = "requests_in_flight", lastHeartbeat = "last_heartbeat"
            case drainReasons = "drain_reasons", note, gpus, gpuTemperatureCelsius = "gpu_temperature_celsius"
            case gpuMemoryUsedMiB = "gpu_memory_used_mib", gpuMemoryTotalMiB = "gpu_memory_total_mib"
        }

        public init(id: String, name: String, state: String, zone: String, models: [String], load: Double, requestsInFlight: Int,
                    lastHeartbeat: UnixMillis, drainReasons: [String], note: String?, gpus: Int, gpuTemperatureCelsius: Double? = nil,
                    gpuMemoryUsedMiB: UInt64? = nil, gpuMemoryTotalMiB: UInt64? = nil) {
            self.gpuTemperatureCelsius = gpuTemperatureCelsius
            self.gpuMemoryUsedMiB = gpuMemoryUsedMiB
            self.gpuMemoryTotalMiB = gpuMemoryTotalMiB
            self.id = id
            self.name = name
            self.state = state
            self.zone = zone
            self.models = models
            self.load = load
            self.requestsInFlight = requestsInFlight
            self.lastHeartbeat = lastHeartbeat
            self.drainReasons = drainReasons
            self.note = note
            self.gpus = gpus
        }

        /// One word and its reasons, for tables: `draining (operator, licence)`.
        public var summary: String {
            drainReasons.isEmpty ? state : "\(state) (\(drainReasons.joined(separator: ", ")))"
        }
    }

    enum CodingKeys: String, CodingKey { case writtenAt = "written_at", nodes }

    public init(writtenAt: UnixMillis, nodes: [Entry]) {
        self.writtenAt = writtenAt
        self.nodes = nodes
    }

    public static let maxAge: Int64 = 30_000

    public static func path(dataDirectory: String) -> String { dataDirectory + "/run/nodes.json" }

    /// Written whole (a temporary file renamed into place), owner-readable only.
    public func write(dataDirectory: String) throws {
        let directory = dataDirectory + "/run"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: Self.path(dataDirectory: dataDirectory), mode: 0o600)
    }

    /// The snapshot if there is a fresh one; nil when it is missing, unreadable or stale.
    public static func read(dataDirectory: String, now: UnixMillis) -> LiveNodesSnapshot? {
        guard let data = FileManager.default.contents(atPath: path(dataDirectory: dataDirectory)),
              let snapshot = try? JSONDecoder().decode(LiveNodesSnapshot.self, from: data),
              now.value - snapshot.writtenAt.value <= maxAge else { return nil }
        return snapshot
    }
}
