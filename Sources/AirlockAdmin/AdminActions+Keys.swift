import AirlockCore
import AirlockIdentity

/// A key as just issued or rotated. `secret` is the only copy that will ever exist: it is shown
/// once and then only its HMAC is kept.
public struct IssuedKey: Sendable, Codable {
    public var key: APIKey
    public var secret: String
    public var displayPrefix: String
}

/// A key with its credentials (current first), for listings and `key show`.
public struct KeyDetails: Sendable, Codable {
    public var key: APIKey
    public var credentials: [CredentialSummary]

    /// The newest credential's prefix: what `key list` shows.
    public var displayPrefix: String? { credentials.first?.displayPrefix }
}

/// A credential without its hash.
public struct CredentialSummary: Sendable, Codable, Equatable {
    public var displayPrefix: String
    public var createdAt: UnixMillis
    public var retiresAt: UnixMillis?

    init(_ credential: KeyCredential) {
        displayPrefix = credential.displayPrefix
        createdAt = credential.createdAt
        retiresAt = credential.retiresAt
    }
}

/// What the audit log records about a key: its policy and credential prefixes, never a hash.
private struct AuditedKey: Encodable {
    var key: APIKey
    var credentials: [CredentialSummary]
}

extension AdminActions {
    public func createKey(
        org orgReference: String, env envReference: String, name: String?, expiresAt: UnixMillis?,
        allowedModels: [String]?, by actor: AdminActor
    ) async throws -> IssuedKey {
        if let name { try AdminInput.validateName(name, kind: "key") }
        let now = clock.now()
        if let expiresAt, expiresAt <= now { throw AirlockError.invalidArgument("expiry is in the past") }
        if allowedModels?.isEmpty == true { throw AirlockError.invalidArgument("a key must allow at least one model") }
        let secret = APIKeyFormat.generate()
        let credential = try newCredential(secret: secret, keyID: .generate(), now: now)
        return try await mutateTenancy { tx in
            let org = try tx.reader.requireOrg(orgReference)
            let env = try tx.reader.requireEnvironment(envReference, in: org)
            for (kind, id, status) in [("org", org.id.rawValue, org.status), ("env", env.id.rawValue, env.status)]
            where status == .revoked {
                throw AirlockError.parentRevoked(kind: kind, id: id)
            }
            if let name, try tx.reader.key(env: env.id, named: name) != nil {
                throw AirlockError.duplicate(kind: "key", name: name, scope: "env \(org.name)/\(env.name)")
            }
            let key = APIKey(
                id: credential.keyID, orgID: org.id, envID: env.id, name: name, status: .active, createdAt: now,
                expiresAt: expiresAt, allowedModels: allowedModels)
            try tx.insert(key)
            try tx.insert(credential)
            let after = AuditedKey(key: key, credentials: [CredentialSummary(credential)])
            try tx.audit(auditEntry(actor, "key.create", type: "key", id: key.id.rawValue, before: AuditedKey?.none, after: after))
            return IssuedKey(key: key, secret: secret, displayPrefix: credential.displayPrefix)
        }
    }

    /// Keys filtered by org and/or environment (ids or names; an env name needs an org).
    public func listKeys(org orgReference: String?, env envReference: String?) async throws -> [KeyDetails] {
        try await store.read { reader in
            let org = try orgReference.map { try reader.requireOrg($0) }
            let env = try envReference.map { try reader.requireEnvironment($0, in: org) }
            return try reader.keys(org: org?.id, env: env?.id).map { key in
                KeyDetails(key: key, credentials: try reader.credentials(key: key.id).map(CredentialSummary.init))
            }
        }
    }

    public func key(_ reference: String) async throws -> KeyDetails {
        try await store.read { reader in
            let key = try reader.requireKey(reference)
            return KeyDetails(key: key, credentials: try reader.credentials(key: key.id).map(CredentialSummary.init))
        }
    }

    public func suspendKey(_ reference: String, by actor: AdminActor) async throws -> APIKey {
        try await setKeyStatus(reference, to: .suspended, action: "key.suspend", by: actor)
    }

    public func resumeKey(_ reference: String, by actor: AdminActor) async throws -> APIKey {
        try await setKeyStatus(reference, to: .active, action: "key.resume", by: actor)
    }

    /// Permanent, and immediate for every credential of the key, including any in a grace window.
    public func revokeKey(_ reference: String, by actor: AdminActor) async throws -> APIKey {
        try await setKeyStatus(reference, to: .revoked, action: "key.revoke", by: actor)
    }

    /// Issues a new secret for the same key id. The previous secret keeps working for
    /// `graceSeconds` (default from `[keys] rotation_grace_seconds`), then stops.
    public func rotateKey(_ reference: String, graceSeconds: Int? = nil, by actor: AdminActor) async throws -> IssuedKey {
        let grace = Int64(graceSeconds ?? Int(rotationGraceSeconds))
        guard (0...(90 * 86_400)).contains(grace) else {
            throw AirlockError.invalidArgument("grace must be between 0 and 7776000 seconds (90 days), got \(grace)")
        }
        let now = clock.now()
        let secret = APIKeyFormat.generate()
        return try await mutateTenancy { tx in
            let key = try tx.reader.requireKey(reference)
            guard key.status != .revoked else {
                throw AirlockError.invalidTransition(kind: "key", id: key.id.rawValue, from: .revoked, to: .active)
            }
            let before = try tx.reader.credentials(key: key.id)
            let credential = try newCredential(secret: secret, keyID: key.id, now: now)
            for old in before { try tx.retire(credential: old.displayPrefix, at: now.adding(seconds: grace)) }
            try tx.insert(credential)
            let after = try tx.reader.credentials(key: key.id)
            try tx.audit(auditEntry(
                actor, "key.rotate", type: "key", id: key.id.rawValue,
                before: AuditedKey(key: key, credentials: before.map(CredentialSummary.init)),
                after: AuditedKey(key: key, credentials: after.map(CredentialSummary.init))))
            return IssuedKey(key: key, secret: secret, displayPrefix: credential.displayPrefix)
        }
    }

    /// Finds the key a secret belongs to, whatever its status — for answering "whose is this
    /// leaked key?". The secret is checked against its HMAC; a wrong secret is "not found".
    public func identifyKey(secret: String) async throws -> KeyDetails {
        guard let prefix = APIKeyFormat.displayPrefix(of: secret) else {
            throw AirlockError.invalidArgument("not an Airlock API key (expected alk_ followed by 38 characters with a valid checksum)")
        }
        let hash = hasher.hash(secret)
        return try await store.read { reader in
            guard let credential = try reader.credential(displayPrefix: prefix), constantTimeEquals(credential.hash, hash),
                  let key = try reader.key(id: credential.keyID)
            else { throw AirlockError.notFound(kind: "key", reference: prefix + "…") }
            return KeyDetails(key: key, credentials: try reader.credentials(key: key.id).map(CredentialSummary.init))
        }
    }

    private func setKeyStatus(_ reference: String, to status: TenantStatus, action: String, by actor: AdminActor) async throws -> APIKey {
        try await mutateTenancy { tx in
            let before = try tx.reader.requireKey(reference)
            try requireTransition("key", before.id.rawValue, from: before.status, to: status)
            var after = before
            after.status = status
            try tx.setStatus(status, key: before.id)
            try tx.audit(auditEntry(actor, action, type: "key", id: before.id.rawValue, before: before, after: after))
            return after
        }
    }

    /// A credential for `secret`. Display prefixes must be unique; with 8 base62 characters a
    /// clash is rare but possible, and the insert's primary key would refuse it, so callers see
    /// a storage error and can retry.
    private func newCredential(secret: String, keyID: KeyID, now: UnixMillis) throws -> KeyCredential {
        guard let prefix = APIKeyFormat.displayPrefix(of: secret) else {
            throw AirlockError.invalidArgument("generated key failed its own format check")
        }
        return KeyCredential(keyID: keyID, displayPrefix: prefix, hash: hasher.hash(secret), createdAt: now, retiresAt: nil)
    }
}
