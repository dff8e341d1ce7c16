/// An isolated sub-tenant of an org such as `dev` or `prod` (seed 004 § 11), with its own keys,
/// quotas and limits.
public struct Environment: Codable, Sendable, Equatable {
    public var id: EnvID
    public var orgID: OrgID
    public var name: String
    public var status: TenantStatus
    public var createdAt: UnixMillis

    public init(id: EnvID, orgID: OrgID, name: String, status: TenantStatus, createdAt: UnixMillis) {
        self.id = id
        self.orgID = orgID
        self.name = name
        self.status = status
        self.createdAt = createdAt
    }
}
