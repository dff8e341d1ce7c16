/// Where a roll-out of a new agent release to the GPU nodes stands: one node at a time, stopped
/// at the first failure (docs/OPERATIONS.md § Agent roll-out). Shown by `GET
/// /admin/v1/upgrades/agents` and `airlock upgrade agents`.
public struct AgentRolloutStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case running, done, failed }

    public struct NodeStep: Codable, Sendable, Equatable {
        public enum State: String, Codable, Sendable {
            case pending, sending, waiting, upgraded, skipped, failed
            /// Not tried: the roll-out stopped at an earlier node.
            case notReached = "not_reached"
        }

        public var nodeID: String
        public var nodeName: String
        /// The agent release the node registered with before the roll-out.
        public var from: String
        public var state: State
        public var message: String?

        public init(nodeID: String, nodeName: String, from: String, state: State, message: String? = nil) {
            (self.nodeID, self.nodeName, self.from, self.state, self.message) = (nodeID, nodeName, from, state, message)
        }
    }

    public var release: String
    public var startedBy: String
    public var startedAt: UnixMillis
    public var finishedAt: UnixMillis?
    public var state: State
    public var nodes: [NodeStep]

    public init(release: String, startedBy: String, startedAt: UnixMillis, state: State, nodes: [NodeStep]) {
        (self.release, self.startedBy, self.startedAt, self.state, self.nodes) = (release, startedBy, startedAt, state, nodes)
        finishedAt = nil
    }
}

/// Starting a roll-out and reading where it stands; the daemon's node plane implements it, the
/// admin API calls it.
public protocol AgentRollouts: Sendable {
    /// Starts rolling out the agent of the release the daemon runs; throws if one is running or
    /// the daemon was not started from a release folder.
    func start(actor: String) async throws -> AgentRolloutStatus
    /// The running or last roll-out since the daemon started.
    func latest() -> AgentRolloutStatus?
}
