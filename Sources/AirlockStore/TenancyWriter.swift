import AirlockCore
import GRDB

/// Write access inside one transaction. Every mutation made through it should be paired with an
/// ``audit(_:)`` call in the same transaction; `AirlockAdmin` does that for every action.
public struct TenancyWriter {
    let db: Database

    /// Reads that see this transaction's own uncommitted writes.
    public var reader: TenancyReader { TenancyReader(db: db) }

    public func insert(_ org: Org) throws {
        try db.execute(
            sql: "INSERT INTO orgs (id, name, status, created_at) VALUES (?, ?, ?, ?)",
            arguments: [org.id.rawValue, org.name, org.status.rawValue, org.createdAt.value])
    }

    public func setStatus(_ status: TenantStatus, org: OrgID) throws {
        try db.execute(sql: "UPDATE orgs SET status = ? WHERE id = ?", arguments: [status.rawValue, org.rawValue])
    }

    public func insert(_ env: Environment) throws {
        try db.execute(
            sql: "INSERT INTO environments (id, org_id, name, status, created_at, zone) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [env.id.rawValue, env.orgID.rawValue, env.name, env.status.rawValue, env.createdAt.value, env.zone])
    }

    public func setZone(_ zone: String?, env: EnvID) throws {
        try db.execute(sql: "UPDATE environments SET zone = ? WHERE id = ?", arguments: [zone, env.rawValue])
    }

    public func setStatus(_ status: TenantStatus, env: EnvID) throws {
        try db.execute(sql: "UPDATE environments SET status = ? WHERE id = ?", arguments: [status.rawValue, env.rawValue])
    }

    public func insert(_ key: APIKey) throws {
        try db.execute(
            sql: """
                INSERT INTO api_keys (id, org_id, env_id, name, status, created_at, expires_at, allowed_models)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                key.id.rawValue, key.orgID.rawValue, key.envID.rawValue, key.name, key.status.rawValue,
                key.createdAt.value, key.expiresAt?.value, key.allowedModelsColumn,
            ])
    }

    public func setStatus(_ status: TenantStatus, key: KeyID) throws {
        try db.execute(sql: "UPDATE api_keys SET status = ? WHERE id = ?", arguments: [status.rawValue, key.rawValue])
    }

    public func insert(_ credential: KeyCredential) throws {
        try db.execute(
            sql: "INSERT INTO api_key_credentials (display_prefix, key_id, hash, created_at, retires_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [
                credential.displayPrefix, credential.keyID.rawValue, credential.hash, credential.createdAt.value,
                credential.retiresAt?.value,
            ])
    }

    /// Sets when a credential stops working; never extends one that already retires earlier.
    public func retire(credential displayPrefix: String, at instant: UnixMillis) throws {
        try db.execute(
            sql: """
                UPDATE api_key_credentials SET retires_at = ?1
                WHERE display_prefix = ?2 AND (retires_at IS NULL OR retires_at > ?1)
                """,
            arguments: [instant.value, displayPrefix])
    }

    /// Appends to the hash-chained audit log in this transaction.
    @discardableResult
    public func audit(_ entry: AuditEntry) throws -> ChainPosition {
        try AuditLog.append(entry, in: db)
    }
}
