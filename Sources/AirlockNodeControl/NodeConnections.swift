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
    }

    private let links = Mutex<(serial: Int, byNode: [String: Link])>((0, [:]))
    private let commandIDs = Atomic<UInt64>(0)

    public init() {}

    /// Opens the outbound queue for `node`'s new stream, closing any older one.
    func open(_ node: String) -> (serial: Int, stream: AsyncStream<Result<Airlock_Node_V1_ControlMessage, Closed>>) {
        let (stream, continuation) = AsyncStream<Result<Airlock_Node_V1_ControlMessage, Closed>>.makeStream()
        let (serial, previous) = links.withLock { state -> (Int, Link?) in
            state.serial += 1
            let previous = state.byNode.updateValue(Link(serial: state.serial, continuation: continuation), forKey: node)
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
        var message = Airlock_Node_V1_ControlMessage()
        var command = Airlock_Node_V1_Command()
        command.commandID = commandIDs.add(1, ordering: .relaxed).newValue
        command.action = action
        message.command = command
        guard let link = links.withLock({ $0.byNode[node] }) else { return false }
        link.continuation.yield(.success(message))
        return true
    }

    /// Ends `node`'s stream with `reason` (revoked, removed).
    public func close(_ node: String, reason: String) {
        guard let link = links.withLock({ $0.byNode.removeValue(forKey: node) }) else { return }
        link.continuation.yield(.failure(Closed(reason: reason)))
        link.continuation.finish()
    }
}
