import AirlockCore
import AirlockIdentity
import AirlockStore
import Foundation

/// A node as just registered for enrolment. `token` is the only copy: it is shown once, carried
/// to the GPU host by hand, and used once by `airlock-agent enroll`.
public struct IssuedEnrolment: Sendable, Codable {
    public var node: Node
    public var token: String
    public var expiresAt: UnixMillis
}

/// Why an enrolment was refused, for the agent (kept vague on purpose: an unknown node, a wrong
/// secret and a used token read the same) and, in full, for the audit log.
public struct EnrolmentRefused: Error, CustomStringConvertible {
    public var description: String { "the enrolment token is not valid (unknown, already used, expired or revoked)" }
    public var reason: String
}

/// One-time enrolment tokens: `node_<16 hex>.<32 random characters>`. The node id in front lets
/// the appliance find the node without a table scan; only the keyed hash of the whole token is
/// stored, so a copy of the database cannot enrol anything.
enum EnrolmentToken {
    static func generate(for node: NodeID) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in alphabet[Int(UInt8.random(in: 0...63, using: &generator))] }
        return node.rawValue + "." + String(decoding: secret, as: UTF8.self)
    }

    static func node(in token: String) -> NodeID? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].utf8.count == 32 else { return nil }
        return NodeID(rawValue: String(parts[0]))
    }
}

extension AdminActions {
    /// Default lifetime of an enrolment token.
    public static let enrolmentTokenSeconds: Int64 = 24 * 3_600

    /// Registers node `name` (owned by `org` if given, else shared) and issues its one-time
    /// enrolment token.
    public func enrollNode(
        name: String, org orgReference: String?, zone: String?, validForSeconds: Int64 = enrolmentTokenSeconds,
        by actor: AdminActor
    ) async throws -> IssuedEnrolment {
        try AdminInput.validateName(name, kind: "node")
        if let zone { try AdminInput.validateName(zone, kind: "zone") }
        if orgReference != nil { try await requireLicensed(.orgOwnedNodes, for: "an org-owned node") }
        if zone != nil { try await requireLicensed(.multiZone, for: "a node in a zone of its own") }
        guard (60...(30 * 86_400)).contains(validForSeconds) else {
            throw AirlockError.invalidArgument("an enrolment token must be valid between 1 minute and 30 days")
        }
        let now = clock.now()
        let id = NodeID.generate()
        let token = EnrolmentToken.generate(for: id)
        let ticket = EnrolmentTicket(tokenHash: hasher.hash(token), expiresAt: UnixMillis(now.value + validForSeconds * 1_000))
        let node = try await store.write { tx in
            var owner: Org?
            if let orgReference {
                let org = try tx.reader.requireOrg(orgReference)
                guard org.status != .revoked else { throw AirlockError.parentRevoked(kind: "org", id: org.id.rawValue) }
                owner = org
            }
            if try tx.reader.node(named: name) != nil { throw AirlockError.duplicate(kind: "node", name: name, scope: nil) }
            if let zone, try tx.reader.zone(named: zone) == nil { try tx.insert(Zone(name: zone, createdAt: now)) }
            let node = Node(id: id, name: name, orgID: owner?.id, zone: zone, enrolment: .pending, draining: false, createdAt: now)
            try tx.insert(node, ticket: ticket)
            try tx.audit(auditEntry(actor, "node.enroll", type: "node", id: id.rawValue, before: nil as Node?, after: node))
            return node
        }
        return IssuedEnrolment(node: node, token: token, expiresAt: ticket.expiresAt)
    }

    /// Uses an enrolment token: checks it (known, pending, unexpired, secret matches in constant
    /// time), lets `issue` sign the node's certificate, and records the node as enrolled with
    /// that certificate's fingerprint — all in one transaction, so a token can never enrol twice.
    /// A refusal is audited too (as `agent`), with its real reason.
    public func redeemEnrolment(token: String, issue: @escaping @Sendable (Node) throws -> (certificatePEM: String, sha256: String))
        async throws -> (node: Node, certificatePEM: String)
    {
        let now = clock.now()
        let presented = hasher.hash(token)
        let result: Result<(Node, String), EnrolmentRefused> = try await store.write { tx in
            func refuse(_ reason: String) -> Result<(Node, String), EnrolmentRefused> { .failure(EnrolmentRefused(reason: reason)) }
            guard let id = EnrolmentToken.node(in: token) else { return refuse("malformed token") }
            guard let node = try tx.reader.node(id: id) else { return refuse("no node \(id.rawValue)") }
            guard let ticket = try tx.reader.enrolmentTicket(node: id) else {
                return refuse("node \(node.name) is \(node.enrolment.rawValue), not awaiting enrolment")
            }
            guard constantTimeEquals(presented, ticket.tokenHash) else { return refuse("wrong secret for node \(node.name)") }
            guard now < ticket.expiresAt else { return refuse("token for node \(node.name) expired at \(ticket.expiresAt)") }
            let (pem, fingerprint) = try issue(node)
            var enrolled = node
            enrolled.enrolment = .enrolled
            enrolled.enrolledAt = now
            enrolled.certificateSHA256 = fingerprint
            try tx.update(enrolled)
            try tx.audit(auditEntry(AdminActor("agent:\(node.name)"), "node.enrolled", type: "node", id: id.rawValue,
                                    before: node, after: enrolled))
            return .success((enrolled, pem))
        }
        switch result {
        case let .success((node, pem)):
            return (node, pem)
        case let .failure(refusal):
            _ = try await store.write { tx in
                try tx.audit(auditEntry(AdminActor("agent"), "node.enroll_refused", type: "node",
                                        id: EnrolmentToken.node(in: token)?.rawValue ?? "-", before: nil as String?, after: refusal.reason))
            }
            throw refusal
        }
    }

    /// Permanent: the node's certificate stops connecting and any pending token stops working.
    public func revokeNode(_ reference: String, by actor: AdminActor) async throws -> Node {
        try await changeNode(reference, action: "node.revoke", by: actor) { node in
            guard node.enrolment != .revoked else {
                throw AirlockError.invalidArgument("node \(node.name) is already revoked")
            }
            node.enrolment = .revoked
        }
    }

    /// Draining nodes take no new work and finish what they have (seed 004 § 31); resume undoes it.
    public func setNodeDraining(_ reference: String, _ draining: Bool, by actor: AdminActor) async throws -> Node {
        try await changeNode(reference, action: draining ? "node.drain" : "node.resume", by: actor) { node in
            guard node.enrolment != .revoked else { throw AirlockError.invalidArgument("node \(node.name) is revoked") }
            node.draining = draining
        }
    }

    /// Asks the node's agent to restart its engine (to load new weights, a new engine build)
    /// without losing a request: the agent drains the node, waits for the engine to be idle,
    /// restarts it and takes work again once it is healthy. Only an agent that supervises its
    /// engine (`--engine-command`) can; it reports the outcome in the daemon's log.
    public func requestEngineReload(_ reference: String, by actor: AdminActor) async throws -> Node {
        try await changeNode(reference, action: "node.reload", by: actor) { node in
            guard node.enrolment == .enrolled else {
                throw AirlockError.invalidArgument("node \(node.name) is \(node.enrolment.rawValue): only an enrolled node can reload")
            }
            node.reloadRequests += 1
        }
    }

    private func changeNode(_ reference: String, action: String, by actor: AdminActor,
                            _ change: @escaping @Sendable (inout Node) throws -> Void) async throws -> Node {
        try await store.write { tx in
            let before = try tx.reader.requireNode(reference)
            var after = before
            try change(&after)
            try tx.update(after)
            try tx.audit(auditEntry(actor, action, type: "node", id: before.id.rawValue, before: before, after: after))
            return after
        }
    }
}

extension TenancyReader {
    /// A node by id (`node_…`) or by name.
    func requireNode(_ reference: String) throws -> Node {
        let node = if let id = NodeID(rawValue: reference) { try node(id: id) } else { try node(named: reference) }
        guard let node else { throw AirlockError.notFound(kind: "node", reference: reference) }
        return node
    }
}

extension AdminActions {
    /// Records that port 9443 refused an agent (unknown, revoked or mismatched certificate, a
    /// registration naming unknown models): the refusal is an audit row, not only a log line.
    public func auditAgentRefusal(action: String, node reference: String, reason: String) async throws {
        _ = try await store.write { tx in
            try tx.audit(auditEntry(AdminActor("agent"), action, type: "node", id: reference, before: nil as String?, after: reason))
        }
    }
}

extension AdminActions {
    /// An agent roll-out's audit rows (`upgrade.agents_*`, `upgrade.agent`): who started it, and
    /// what happened on each node.
    public func auditAgentRollout(actor: String, action: String, target: String, detail: [String: String]) async throws {
        _ = try await store.write { tx in
            try tx.audit(auditEntry(AdminActor(actor), action, type: "release", id: target, before: nil as [String: String]?, after: detail))
        }
    }
}
