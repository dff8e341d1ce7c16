import AirlockCore

/// Who a presented key speaks for, once it has been authenticated and found usable. Carries no
/// secret, so it may be logged.
public struct KeyIdentity: Sendable, Equatable {
    public var orgID: OrgID
    public var envID: EnvID
    public var keyID: KeyID
    public var keyName: String?
    /// Models the key may call; nil means all.
    public var allowedModels: [String]?
    public var expiresAt: UnixMillis?
    /// The credential that matched, e.g. `alk_4Qb0x9Zk`; differs from the key's current one
    /// while a rotated-out secret is still inside its grace window.
    public var credentialPrefix: String
    /// The key's environment's zone, where its requests are placed first; nil: the appliance's.
    public var zone: String? = nil

    public func allows(model: String) -> Bool {
        allowedModels.map { $0.contains(model) } ?? true
    }
}

/// Why a presented key was not accepted. The gateway maps these to HTTP: `malformed`, `unknown`,
/// `retired`, `expired` and `revoked` are 401 (the key is not valid); `suspended` is 403
/// `tenant_suspended` (seed 004 § 20).
public enum KeyRefusal: Sendable, Equatable, CustomStringConvertible {
    case malformed
    case unknown
    /// A rotated-out secret whose grace window has ended.
    case retired
    case expired
    case revoked(TenancyLevel)
    case suspended(TenancyLevel)

    public var description: String {
        switch self {
        case .malformed: return "the API key is malformed"
        case .unknown: return "the API key is not recognised"
        case .retired: return "the API key was rotated and its grace period has ended"
        case .expired: return "the API key has expired"
        case let .revoked(level): return "the \(level.rawValue) is revoked"
        case let .suspended(level): return "the \(level.rawValue) is suspended"
        }
    }
}

/// The outcome of resolving a presented key.
public enum KeyResolution: Sendable, Equatable {
    case authenticated(KeyIdentity)
    case refused(KeyRefusal)

    public var identity: KeyIdentity? {
        if case let .authenticated(identity) = self { return identity }
        return nil
    }
}
