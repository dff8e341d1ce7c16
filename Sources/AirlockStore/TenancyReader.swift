import AirlockCore
import GRDB

/// Read access to orgs, environments, keys and credentials inside one transaction.
public struct TenancyReader {
    let db: Database

    public func org(id: OrgID) throws -> Org? {
        try Row.fetchOne(db, sql: "SELECT * FROM orgs WHERE id = ?", arguments: [id.rawValue]).map(Org.init(row:))
    }

    public func org(named name: String) throws -> Org? {
        try Row.fetchOne(db, sql: "SELECT * FROM orgs WHERE name = ?", arguments: [name]).map(Org.init(row:))
    }

    public func orgs() throws -> [Org] {
        try Row.fetchAll(db, sql: "SELECT * FROM orgs ORDER BY name").map(Org.init(row:))
    }

    public func environment(id: EnvID) throws -> Environment? {
        try Row.fetchOne(db, sql: "SELECT * FROM environments WHERE id = ?", arguments: [id.rawValue])
            .map(Environment.init(row:))
    }

    public func environment(org: OrgID, named name: String) throws -> Environment? {
        try Row.fetchOne(
            db, sql: "SELECT * FROM environments WHERE org_id = ? AND name = ?", arguments: [org.rawValue, name]
        ).map(Environment.init(row:))
    }

    /// Environments of one org, or of all orgs when `org` is nil.
    public func environments(org: OrgID?) throws -> [Environment] {
        let rows = if let org {
            try Row.fetchAll(db, sql: "SELECT * FROM environments WHERE org_id = ? ORDER BY name", arguments: [org.rawValue])
        } else {
            try Row.fetchAll(db, sql: "SELECT * FROM environments ORDER BY org_id, name")
        }
        return try rows.map(Environment.init(row:))
    }

    public func key(id: KeyID) throws -> APIKey? {
        try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [id.rawValue]).map(APIKey.init(row:))
    }

    public func key(env: EnvID, named name: String) throws -> APIKey? {
        try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE env_id = ? AND name = ?", arguments: [env.rawValue, name])
            .map(APIKey.init(row:))
    }

    /// Keys filtered by org and/or environment, oldest first.
    public func keys(org: OrgID?, env: EnvID?) throws -> [APIKey] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT * FROM api_keys
                WHERE (?1 IS NULL OR org_id = ?1) AND (?2 IS NULL OR env_id = ?2)
                ORDER BY created_at, id
                """,
            arguments: [org?.rawValue, env?.rawValue]
        ).map(APIKey.init(row:))
    }

    /// A key's credentials, newest first.
    public func credentials(key: KeyID) throws -> [KeyCredential] {
        try Row.fetchAll(
            db, sql: "SELECT * FROM api_key_credentials WHERE key_id = ? ORDER BY created_at DESC, rowid DESC",
            arguments: [key.rawValue]
        ).map(KeyCredential.init(row:))
    }

    public func credential(displayPrefix: String) throws -> KeyCredential? {
        try Row.fetchOne(db, sql: "SELECT * FROM api_key_credentials WHERE display_prefix = ?", arguments: [displayPrefix])
            .map(KeyCredential.init(row:))
    }

    /// Every credential with the key, environment and org it authenticates: the identity index.
    public func credentialBindings() throws -> [CredentialBinding] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT k.*, c.display_prefix, c.hash, c.created_at AS c_created_at, c.retires_at,
                   e.status AS env_status, e.zone AS env_zone, o.status AS org_status
            FROM api_key_credentials c
            JOIN api_keys k ON k.id = c.key_id
            JOIN environments e ON e.id = k.env_id
            JOIN orgs o ON o.id = k.org_id
            """)
        return try rows.map { row in
            let key = try APIKey(row: row)
            let credential = KeyCredential(
                keyID: key.id, displayPrefix: row["display_prefix"], hash: row["hash"],
                createdAt: UnixMillis(row["c_created_at"] as Int64), retiresAt: (row["retires_at"] as Int64?).map(UnixMillis.init))
            return CredentialBinding(
                credential: credential, key: key,
                envStatus: try .decode(row["env_status"]), orgStatus: try .decode(row["org_status"]), envZone: row["env_zone"])
        }
    }

    /// How many credentials exist at all: zero means the key-hashing secret may still be created.
    public func credentialCount() throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM api_key_credentials") ?? 0
    }

    /// Changes whenever any org, environment, key or credential row is inserted or updated.
    public func tenancyGeneration() throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM tenancy_generation WHERE id = 1") ?? 0
    }
}

/// One credential joined with everything needed to decide whether it may be used.
public struct CredentialBinding: Sendable {
    public var credential: KeyCredential
    public var key: APIKey
    public var envStatus: TenantStatus
    public var orgStatus: TenantStatus
    /// The environment's zone; nil: the appliance's home zone.
    public var envZone: String?

    public init(credential: KeyCredential, key: APIKey, envStatus: TenantStatus, orgStatus: TenantStatus, envZone: String? = nil) {
        self.credential = credential
        self.key = key
        self.envStatus = envStatus
        self.orgStatus = orgStatus
        self.envZone = envZone
    }
}
