/// An API key's identity and policy: who it belongs to, whether it may be used, until when, and
/// for which models. The secret itself is a ``KeyCredential``; rotation swaps credentials while
/// the key — and so every ledger row that names it — keeps its id.
public struct APIKey: Codable, Sendable, Equatable {
    public var id: KeyID
    public var orgID: OrgID
    public var envID: EnvID
    public var name: String?
    public var status: TenantStatus
    public var createdAt: UnixMillis
    public var expiresAt: UnixMillis?
    /// Models this key may call; `nil` means every model the environment may use.
    public var allowedModels: [String]?

    public init(
        id: KeyID, orgID: OrgID, envID: EnvID, name: String?, status: TenantStatus,
        createdAt: UnixMillis, expiresAt: UnixMillis?, allowedModels: [String]?
    ) {
        self.id = id
        self.orgID = orgID
        self.envID = envID
        self.name = name
        self.status = status
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.allowedModels = allowedModels
    }

    public func isExpired(at now: UnixMillis) -> Bool {
        guard let expiresAt else { return false }
        return now >= expiresAt
    }

    public func allows(model: String) -> Bool {
        allowedModels.map { $0.contains(model) } ?? true
    }
}

/// One secret that authenticates an ``APIKey``. Only its keyed hash is stored.
///
/// A key has one current credential and, inside rotation grace windows, any superseded ones
/// whose `retiresAt` has not yet passed (rotating twice quickly leaves two). A later rotation
/// never extends an earlier credential's retirement.
public struct KeyCredential: Codable, Sendable, Equatable {
    public var keyID: KeyID
    /// The short, non-secret start of the key string (`alk_XXXXXXXX`), used to list and find it.
    public var displayPrefix: String
    /// HMAC-SHA-256 of the whole key string under the appliance's key-hashing secret, hex.
    public var hash: String
    public var createdAt: UnixMillis
    public var retiresAt: UnixMillis?

    public init(keyID: KeyID, displayPrefix: String, hash: String, createdAt: UnixMillis, retiresAt: UnixMillis?) {
        self.keyID = keyID
        self.displayPrefix = displayPrefix
        self.hash = hash
        self.createdAt = createdAt
        self.retiresAt = retiresAt
    }

    public func isRetired(at now: UnixMillis) -> Bool {
        guard let retiresAt else { return false }
        return now >= retiresAt
    }
}
