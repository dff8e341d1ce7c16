import AirlockCore

/// What an authenticated request may touch. Every admin-API route and dashboard page names one
/// of these; `AccessPolicy` alone says which roles hold which.
public enum Permission: String, Sendable, CaseIterable {
    /// Orgs, environments, keys, limits and reservations: read.
    case readTenancy = "tenancy.read"
    /// Orgs, environments, keys, limits and reservations: change.
    case manageTenancy = "tenancy.manage"
    /// Creating and retiring whole orgs (an org-admin manages inside one org, never orgs).
    case manageOrgs = "orgs.manage"
    /// Nodes, models, upgrades, licence status: read.
    case readInfrastructure = "infrastructure.read"
    /// Nodes (enrol, drain, resume, reload, revoke), models, upgrades: change.
    case manageInfrastructure = "infrastructure.manage"
    /// Usage queries and the usage chart.
    case readUsage = "usage.read"
    /// The audit log, chain verification and ledger export.
    case readAudit = "audit.read"
    /// Licence activation requests and activations.
    case manageLicense = "license.manage"
    /// Users and roles.
    case manageUsers = "users.manage"
    /// Price versions (issue H): what every org is charged back, so admins only.
    case managePrices = "prices.manage"
}

/// The role → permission table (seed 004 § 10.1), and the org scope an org-admin is held to.
public enum AccessPolicy {
    public static func permissions(of role: AdminRole) -> Set<Permission> {
        switch role {
        case .admin:
            return Set(Permission.allCases)
        case .operator:
            return [.readTenancy, .readInfrastructure, .manageInfrastructure, .readUsage]
        case .auditor:
            return [.readTenancy, .readInfrastructure, .readUsage, .readAudit]
        case .viewer:
            return [.readTenancy, .readInfrastructure, .readUsage]
        case .orgAdmin:
            return [.readTenancy, .manageTenancy, .readUsage]
        }
    }

    public static func allows(_ role: AdminRole, _ permission: Permission) -> Bool {
        permissions(of: role).contains(permission)
    }
}

/// Who is asking, once a front end has authenticated them: the actor the audit log records, the
/// role, and for an org-admin the one org they may see.
public struct AdminPrincipal: Sendable, Equatable {
    public var actor: AdminActor
    public var role: AdminRole
    public var orgID: OrgID?

    public init(actor: AdminActor, role: AdminRole, orgID: OrgID? = nil) {
        self.actor = actor
        self.role = role
        self.orgID = orgID
    }

    public init(user: AdminUser) {
        self.init(actor: AdminActor("user:\(user.name)"), role: user.role, orgID: user.role == .orgAdmin ? user.orgID : nil)
    }

    public func may(_ permission: Permission) -> Bool { AccessPolicy.allows(role, permission) }

    /// Whether an org's data is within this principal's reach: every org for the appliance-wide
    /// roles, only its own for an org-admin.
    public func sees(org: OrgID) -> Bool { orgID.map { $0 == org } ?? (role != .orgAdmin) }
}
