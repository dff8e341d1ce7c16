import AirlockCore
import Foundation
import GRDB

// Rows → domain values. Ids read back with `unchecked`: the database is the authority on what
// was stored, and a malformed value must surface in verification, not crash a read.

extension TenantStatus {
    static func decode(_ text: String) throws -> TenantStatus {
        guard let status = TenantStatus(rawValue: text) else {
            throw AirlockError.storage("unknown status '\(text)' in database")
        }
        return status
    }
}

extension Org {
    init(row: Row) throws {
        self.init(
            id: OrgID(unchecked: row["id"]), name: row["name"],
            status: try .decode(row["status"]), createdAt: UnixMillis(row["created_at"] as Int64))
    }
}

extension Environment {
    init(row: Row) throws {
        self.init(
            id: EnvID(unchecked: row["id"]), orgID: OrgID(unchecked: row["org_id"]), name: row["name"],
            status: try .decode(row["status"]), createdAt: UnixMillis(row["created_at"] as Int64), zone: row["zone"])
    }
}

extension APIKey {
    init(row: Row) throws {
        let models: [String]? = try (row["allowed_models"] as String?).map { text in
            try JSONDecoder().decode([String].self, from: Data(text.utf8))
        }
        self.init(
            id: KeyID(unchecked: row["id"]), orgID: OrgID(unchecked: row["org_id"]),
            envID: EnvID(unchecked: row["env_id"]), name: row["name"], status: try .decode(row["status"]),
            createdAt: UnixMillis(row["created_at"] as Int64), expiresAt: (row["expires_at"] as Int64?).map(UnixMillis.init),
            allowedModels: models)
    }

    /// The `allowed_models` column: a JSON array, or NULL for "all models".
    var allowedModelsColumn: String? {
        allowedModels.map { String(decoding: try! JSONEncoder().encode($0), as: UTF8.self) }
    }
}

extension KeyCredential {
    init(row: Row) {
        self.init(
            keyID: KeyID(unchecked: row["key_id"]), displayPrefix: row["display_prefix"], hash: row["hash"],
            createdAt: UnixMillis(row["created_at"] as Int64), retiresAt: (row["retires_at"] as Int64?).map(UnixMillis.init))
    }
}
