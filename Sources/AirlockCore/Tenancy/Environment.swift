/// An isolated sub-tenant of an org such as `dev` or `prod` (seed 004 § 11), with its own keys,
/// quotas and limits.
public struct Environment: Codable, Sendable, Equatable {
    public var id: EnvID
    public var orgID: OrgID
    public var name: String
    public var status: TenantStatus
    public var createdAt: UnixMillis
    /// The zone its requests are placed in first (seed 004 § 12: each env picks its region);
    /// nil means the appliance's home zone (`gateway.zone`).
    public var zone: String?

    public init(id: EnvID, orgID: OrgID, name: String, status: TenantStatus, createdAt: UnixMillis, zone: String? = nil) {
        self.id = id
        self.orgID = orgID
        self.name = name
        self.status = status
        self.createdAt = createdAt
        self.zone = zone
    }
}
