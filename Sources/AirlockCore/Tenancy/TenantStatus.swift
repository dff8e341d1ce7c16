/// The life-cycle state shared by orgs, environments and API keys (seed 004 § 20).
///
/// `revoked` is terminal: nothing moves out of it, and the database refuses the change too.
public enum TenantStatus: String, Codable, Sendable, CaseIterable {
    case active
    case suspended
    case revoked

    /// The transitions an admin may ask for. Suspend and resume are reversible; revoke is not.
    public func canTransition(to next: TenantStatus) -> Bool {
        switch (self, next) {
        case (.active, .suspended), (.suspended, .active), (.active, .revoked), (.suspended, .revoked):
            return true
        default:
            return false
        }
    }
}

/// Which level of the org → env → key hierarchy a statement is about.
public enum TenancyLevel: String, Codable, Sendable {
    case org
    case env
    case key
}
