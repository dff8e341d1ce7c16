import AirlockCore
import GRDB

/// What a sign-in needs besides the user: the stored password hash and the failure count that
/// drives lockout. Kept apart from `AdminUser` so the hash never travels with the user record.
public struct UserCredential: Sendable {
    public var passwordHash: String
    public var failedLogins: Int

    public init(passwordHash: String, failedLogins: Int) {
        self.passwordHash = passwordHash
        self.failedLogins = failedLogins
    }
}

extension AdminUser {
    init(row: Row) throws {
        guard let role = AdminRole(rawValue: row["role"]), let status = AdminUserStatus(rawValue: row["status"]) else {
            throw AirlockError.storage("unknown role or status for user '\(row["name"] as String)' in database")
        }
        self.init(
            name: row["name"], role: role, orgID: (row["org_id"] as String?).map(OrgID.init(unchecked:)), status: status,
            createdAt: UnixMillis(row["created_at"] as Int64), passwordChangedAt: UnixMillis(row["password_changed_at"] as Int64),
            lockedUntil: (row["locked_until"] as Int64?).map(UnixMillis.init))
    }
}

extension TenancyReader {
    public func users() throws -> [AdminUser] {
        try Row.fetchAll(db, sql: "SELECT * FROM admin_users ORDER BY name").map(AdminUser.init(row:))
    }

    /// A user by name, case-insensitively (names are unique that way).
    public func user(named name: String) throws -> AdminUser? {
        try Row.fetchOne(db, sql: "SELECT * FROM admin_users WHERE name = ?", arguments: [name]).map(AdminUser.init(row:))
    }

    public func userCredential(named name: String) throws -> UserCredential? {
        try Row.fetchOne(db, sql: "SELECT password_hash, failed_logins FROM admin_users WHERE name = ?", arguments: [name]).map {
            UserCredential(passwordHash: $0["password_hash"], failedLogins: $0["failed_logins"])
        }
    }

    /// How many active admins there are: the last one may not be disabled or demoted.
    public func activeAdminCount() throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM admin_users WHERE role = 'admin' AND status = 'active'") ?? 0
    }
}

extension TenancyWriter {
    public func insert(_ user: AdminUser, passwordHash: String) throws {
        try db.execute(
            sql: """
                INSERT INTO admin_users (name, role, org_id, status, password_hash, failed_logins, locked_until, created_at, password_changed_at)
                VALUES (?, ?, ?, ?, ?, 0, NULL, ?, ?)
                """,
            arguments: [user.name, user.role.rawValue, user.orgID?.rawValue, user.status.rawValue, passwordHash,
                        user.createdAt.value, user.passwordChangedAt.value])
    }

    /// Role, org, status and lock of an existing user (the row's name is the key).
    public func update(_ user: AdminUser) throws {
        try db.execute(
            sql: "UPDATE admin_users SET role = ?, org_id = ?, status = ?, locked_until = ? WHERE name = ?",
            arguments: [user.role.rawValue, user.orgID?.rawValue, user.status.rawValue, user.lockedUntil?.value, user.name])
    }

    public func setPassword(user name: String, hash: String, at time: UnixMillis) throws {
        try db.execute(
            sql: "UPDATE admin_users SET password_hash = ?, password_changed_at = ?, failed_logins = 0, locked_until = NULL WHERE name = ?",
            arguments: [hash, time.value, name])
    }

    /// Records a sign-in's outcome: the failure count, and the lock it led to if any.
    public func setLoginState(user name: String, failedLogins: Int, lockedUntil: UnixMillis?) throws {
        try db.execute(
            sql: "UPDATE admin_users SET failed_logins = ?, locked_until = ? WHERE name = ?",
            arguments: [failedLogins, lockedUntil?.value, name])
    }
}
