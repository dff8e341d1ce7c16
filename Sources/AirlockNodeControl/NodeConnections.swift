import AirlockNodeProtocol
import Synchronization

/// The open `Connect` stream of each node: where commands (drain, resume) are pushed, and how a
/// revoked node's stream is cut. One stream per node; a newer one replaces the older.
public final class NodeConnections: Sendable {
    /// Why a stream is being closed by the control plane.
    public struct Closed: Error, Sendable {
        public var reason: String
    }

    struct Link {
        var serial: Int
        var continuation: AsyncStream<Result<Airlock_Node_V1_ControlMessage, Closed>>.Continuation
        var name: String
        /// What the agent said it runs when this stream registered.
        var agentVersion: String
    }

    /// A node whose agent holds a stream now.
    public struct Connected: Sendable {
        public var id: String
        public var name: String
        public var agentVersion: String
    }

    private let links = Mutex<(serial: Int, byNode: [String: Link])>((0, [:]))
    private let commandIDs = Atomic<UInt64>(0)
    /// Answers to commands, by command id, until someone takes them (the agent roll-out waits on
    /// its own; other commands' answers are only logged, so at most a few hundred are kept).
    private let results = Mutex<[UInt64: Airlock_Node_V1_CommandResult]>([:])

    public init() {}

    /// Opens the outbound queue for `node`'s new stream, closing any older one.
    func open(_ node: String, name: String = "", agentVersion: String = "") -> (serial: Int, stream: AsyncStream<Result<Airlock_Node_V1_ControlMessage, Closed>>) {
        let (stream, continuation) = AsyncStream<Result<Airlock_Node_V1_ControlMessage, Closed>>.makeStream()
        let (serial, previous) = links.withLock { state -> (Int, Link?) in
            state.serial += 1
            let link = Link(serial: state.serial, continuation: continuation, name: name, agentVersion: agentVersion)
            let previous = state.byNode.updateValue(link, forKey: node)
            return (state.serial, previous)
        }
        previous?.continuation.yield(.failure(Closed(reason: "a newer connection for this node replaced this one")))
        previous?.continuation.finish()
        return (serial, stream)
    }

    /// Forgets `node`'s stream if it is still the one opened as `serial`; true if it was (no
    /// newer stream replaced it, and the control plane did not close it).
    func release(_ node: String, serial: Int) -> Bool {
        links.withLock { state in
            guard state.byNode[node]?.serial == serial else { return false }
            state.byNode[node] = nil
            return true
        }
    }

    /// Sends a command down `node`'s stream; false if it has none.
    @discardableResult
    public func send(_ node: String, _ action: Airlock_Node_V1_Command.OneOf_Action) -> Bool {
        sendCommand(node, action) != nil
    }

    /// Sends a command; its id (for its answer), or nil if `node` has no stream.
    func sendCommand(_ node: String, _ action: Airlock_Node_V1_Command.OneOf_Action) -> UInt64? {
        var message = Airlock_Node_V1_ControlMessage()
        var command = Airlock_Node_V1_Command()
        command.commandID = commandIDs.add(1, ordering: .relaxed).newValue
        command.action = action
        message.command = command
        return send(node, message) ? command.commandID : nil
    }

    /// Queues any control message on `node`'s stream; false if it has none.
    func send(_ node: String, _ message: Airlock_Node_V1_ControlMessage) -> Bool {
        guard let link = links.withLock({ $0.byNode[node] }) else { return false }
        link.continuation.yield(.success(message))
        return true
    }

    /// Every node with a stream now, by name.
    public func connected() -> [Connected] {
        links.withLock { state in
            state.byNode.map { Connected(id: $0.key, name: $0.value.name, agentVersion: $0.value.agentVersion) }
        }.sorted { $0.name < $1.name }
    }

    func deliver(_ result: Airlock_Node_V1_CommandResult) {
        results.withLock { results in
            if results.count >= 256, let oldest = results.keys.min() { results[oldest] = nil }
            results[result.commandID] = result
        }
    }

    /// The answer to command `id`, once (taken out).
    func takeResult(_ id: UInt64) -> Airlock_Node_V1_CommandResult? {
        results.withLock { $0.removeValue(forKey: id) }
    }

    /// Ends `node`'s stream with `reason` (revoked, removed).
    public func close(_ node: String, reason: String) {
        guard let link = links.withLock({ $0.byNode.removeValue(forKey: node) }) else { return }
        link.continuation.yield(.failure(Closed(reason: reason)))
        link.continuation.finish()
    }
}
