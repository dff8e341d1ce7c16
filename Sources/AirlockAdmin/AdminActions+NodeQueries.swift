import AirlockCore

extension AdminActions {
    /// Every node, by name, as stored: enrolment, drain flag and certificate fingerprint. Whether
    /// a node is connected right now is the daemon's registry's to say, not the database's.
    public func listNodes() async throws -> [Node] {
        try await store.read { try $0.nodes() }
    }

    /// One node by id (`node_…`) or by name.
    public func node(_ reference: String) async throws -> Node {
        try await store.read { try $0.requireNode(reference) }
    }
}
