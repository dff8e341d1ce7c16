import AirlockCore
import GRDB

/// A pending node's enrolment token, as stored: a keyed hash, never the token.
public struct EnrolmentTicket: Sendable {
    public var tokenHash: String
    public var expiresAt: UnixMillis

    public init(tokenHash: String, expiresAt: UnixMillis) {
        self.tokenHash = tokenHash
        self.expiresAt = expiresAt
    }
}

extension Node {
    init(row: Row) throws {
        guard let enrolment = NodeEnrolment(rawValue: row["status"]) else {
            throw AirlockError.storage("unknown node status '\(row["status"] as String)' in database")
        }
        self.init(
            id: NodeID(unchecked: row["id"]), name: row["name"], orgID: (row["org_id"] as String?).map(OrgID.init(unchecked:)),
            zone: row["zone"], enrolment: enrolment, draining: row["draining"], createdAt: UnixMillis(row["created_at"] as Int64),
            enrolledAt: (row["enrolled_at"] as Int64?).map(UnixMillis.init), certificateSHA256: row["certificate_sha256"],
            reloadRequests: row["reload_requests"])
    }
}

extension TenancyReader {
    public func zone(named name: String) throws -> Zone? {
        try Row.fetchOne(db, sql: "SELECT * FROM zones WHERE name = ?", arguments: [name]).map {
            Zone(name: $0["name"], createdAt: UnixMillis($0["created_at"] as Int64))
        }
    }

    public func node(id: NodeID) throws -> Node? {
        try Row.fetchOne(db, sql: "SELECT * FROM nodes WHERE id = ?", arguments: [id.rawValue]).map(Node.init(row:))
    }

    public func node(named name: String) throws -> Node? {
        try Row.fetchOne(db, sql: "SELECT * FROM nodes WHERE name = ?", arguments: [name]).map(Node.init(row:))
    }

    public func nodes() throws -> [Node] {
        try Row.fetchAll(db, sql: "SELECT * FROM nodes ORDER BY name").map(Node.init(row:))
    }

    /// The outstanding enrolment token of a pending node, if any.
    public func enrolmentTicket(node: NodeID) throws -> EnrolmentTicket? {
        guard let row = try Row.fetchOne(
            db, sql: "SELECT enrol_token_hash, enrol_expires_at FROM nodes WHERE id = ? AND status = 'pending'",
            arguments: [node.rawValue]),
            let hash = row["enrol_token_hash"] as String?, let expires = row["enrol_expires_at"] as Int64?
        else { return nil }
        return EnrolmentTicket(tokenHash: hash, expiresAt: UnixMillis(expires))
    }
}

extension TenancyWriter {
    public func insert(_ zone: Zone) throws {
        try db.execute(sql: "INSERT INTO zones (name, created_at) VALUES (?, ?)", arguments: [zone.name, zone.createdAt.value])
    }

    public func insert(_ node: Node, ticket: EnrolmentTicket?) throws {
        try db.execute(
            sql: """
                INSERT INTO nodes (id, name, zone, org_id, status, created_at, enrol_token_hash, enrol_expires_at, draining)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                node.id.rawValue, node.name, node.zone, node.orgID?.rawValue, node.enrolment.rawValue, node.createdAt.value,
                ticket?.tokenHash, ticket?.expiresAt.value, node.draining,
            ])
    }

    /// Writes a node's state. A pending node keeps its token; leaving `pending` clears it, so a
    /// token is single-use whatever happens next.
    public func update(_ node: Node) throws {
        try db.execute(
            sql: """
                UPDATE nodes SET status = ?1, zone = ?2, draining = ?3, enrolled_at = ?4, certificate_sha256 = ?5,
                    reload_requests = ?7,
                    enrol_token_hash = CASE WHEN ?1 = 'pending' THEN enrol_token_hash END,
                    enrol_expires_at = CASE WHEN ?1 = 'pending' THEN enrol_expires_at END
                WHERE id = ?6
                """,
            arguments: [
                node.enrolment.rawValue, node.zone, node.draining, node.enrolledAt?.value, node.certificateSHA256, node.id.rawValue,
                node.reloadRequests,
            ])
    }
}
