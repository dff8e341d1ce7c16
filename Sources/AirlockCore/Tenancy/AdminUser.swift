/// What a dashboard or admin-API user may do (seed 004 § 10.1). The permissions behind each role
/// are in `AccessPolicy` (AirlockAdmin), the one place that decides.
public enum AdminRole: String, Codable, Sendable, CaseIterable {
    /// Everything, users included.
    case admin
    /// Runs the infrastructure: nodes, models, upgrades; reads the rest, changes no tenant.
    case `operator`
    /// Reads everything, exports the audit log and the ledger, changes nothing.
    case auditor
    /// Reads tenants, nodes, models, usage and the licence; no audit log, no users, no changes.
    case viewer
    /// One org's administrator: its environments, keys, limits and usage, and nothing else.
    case orgAdmin = "org-admin"
}

/// Whether a user may sign in. Disabling is reversible; a user is never deleted, so the audit
/// log's `user:<name>` always names someone who existed.
public enum AdminUserStatus: String, Codable, Sendable, CaseIterable {
    case active
    case disabled
}

/// A local dashboard / admin-API user. The password hash is deliberately not a field: this value
/// is written into audit rows and API answers, and the hash must appear in neither.
public struct AdminUser: Codable, Sendable, Equatable {
    /// Unique, case-insensitively; what the audit log names (`user:<name>`).
    public var name: String
    public var role: AdminRole
    /// The one org an `org-admin` administers; nil for every other role.
    public var orgID: OrgID?
    public var status: AdminUserStatus
    public var createdAt: UnixMillis
    public var passwordChangedAt: UnixMillis
    /// Until when sign-in is refused after repeated failures; nil when not locked.
    public var lockedUntil: UnixMillis?

    public init(name: String, role: AdminRole, orgID: OrgID?, status: AdminUserStatus, createdAt: UnixMillis,
                passwordChangedAt: UnixMillis, lockedUntil: UnixMillis? = nil) {
        self.name = name
        self.role = role
        self.orgID = orgID
        self.status = status
        self.createdAt = createdAt
        self.passwordChangedAt = passwordChangedAt
        self.lockedUntil = lockedUntil
    }
}
