public struct NodeID: EntityID {
    public static let prefix = "node"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// Where a node stands in enrolment. Persisted; the live states (joining, active, draining,
/// dead) are the registry's, in memory, and exist only for enrolled nodes.
public enum NodeEnrolment: String, Codable, Sendable {
    /// An enrolment token was issued and not yet used.
    case pending
    /// The agent used its token and holds a certificate naming this node.
    case enrolled
    /// Refused for good: its certificate no longer connects and its token no longer enrols.
    case revoked
}

/// A GPU host known to the appliance (seed 004 § 21). Org-owned nodes (`orgID` set) serve only
/// their org; shared nodes serve every org.
public struct Node: Codable, Sendable, Equatable {
    public var id: NodeID
    public var name: String
    public var orgID: OrgID?
    public var zone: String?
    public var enrolment: NodeEnrolment
    /// The operator's intent: a draining node takes no new work (survives restarts).
    public var draining: Bool
    public var createdAt: UnixMillis
    public var enrolledAt: UnixMillis?
    /// SHA-256 (hex) of the certificate issued at enrolment: the only one this node may use.
    public var certificateSHA256: String?
    /// How many engine reloads the operator has asked for (`airlock node reload`): the daemon
    /// sends one `ReloadModel` command each time this grows while the node is connected.
    public var reloadRequests: Int64

    public init(id: NodeID, name: String, orgID: OrgID?, zone: String?, enrolment: NodeEnrolment, draining: Bool,
                createdAt: UnixMillis, enrolledAt: UnixMillis? = nil, certificateSHA256: String? = nil, reloadRequests: Int64 = 0) {
        self.id = id
        self.name = name
        self.orgID = orgID
        self.zone = zone
        self.enrolment = enrolment
        self.draining = draining
        self.createdAt = createdAt
        self.enrolledAt = enrolledAt
        self.certificateSHA256 = certificateSHA256
        self.reloadRequests = reloadRequests
    }
}
