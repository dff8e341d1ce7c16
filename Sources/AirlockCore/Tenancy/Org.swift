/// The top-level tenant (seed 004 § 10): a business unit that owns environments and keys.
public struct Org: Codable, Sendable, Equatable {
    public var id: OrgID
    public var name: String
    public var status: TenantStatus
    public var createdAt: UnixMillis

    public init(id: OrgID, name: String, status: TenantStatus, createdAt: UnixMillis) {
        self.id = id
        self.name = name
        self.status = status
        self.createdAt = createdAt
    }
}
