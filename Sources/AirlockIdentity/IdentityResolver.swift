import AirlockCore
import AirlockStore
import Synchronization

/// Maps a presented API key to its org, environment and key in O(1) from an in-memory index.
///
/// The index is keyed by display prefix (not secret); a hit is confirmed by comparing the HMAC
/// of the whole presented string with the stored hash in constant time. The HMAC is computed
/// even when the prefix is unknown, so the time taken does not say which prefixes exist.
///
/// Freshness: the database bumps a generation counter in the same transaction as any tenancy
/// change. ``invalidate()`` (called by the admin layer in this process) makes the next resolve
/// check it at once; otherwise it is checked at most every `recheckInterval`, which bounds how
/// long a change made by another process (the CLI) takes to apply. Only a changed generation
/// triggers a reload.
public final class IdentityResolver: Sendable {
    private struct Index: Sendable {
        var byPrefix: [String: CredentialBinding] = [:]
        var generation: Int64 = -1
        var checkedAt: ContinuousClock.Instant?
        /// Bumped by `invalidate()`; a refresh that started before a bump must not mark the index
        /// as checked, because the change it was told about may have committed after its read.
        var invalidations: UInt64 = 0
    }

    private let store: Store
    private let hasher: KeyHasher
    private let clock: WallClock
    private let recheckInterval: Duration
    private let index = Mutex(Index())

    public init(store: Store, hasher: KeyHasher, clock: WallClock = .system, recheckInterval: Duration = .seconds(1)) {
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.recheckInterval = recheckInterval
    }

    /// Forces the next ``resolve(_:)`` to look for tenancy changes before answering.
    public func invalidate() {
        index.withLock { state in
            state.checkedAt = nil
            state.invalidations &+= 1
        }
    }

    public func resolve(_ presented: String) async throws -> KeyResolution {
        let displayPrefix = APIKeyFormat.displayPrefix(of: presented)
        let presentedHash = hasher.hash(presented)
        guard let displayPrefix else { return .refused(.malformed) }
        try await refreshIfDue()
        let binding = index.withLock { $0.byPrefix[displayPrefix] }
        guard let binding, constantTimeEquals(presentedHash, binding.credential.hash) else {
            return .refused(.unknown)
        }
        return Self.decide(binding, now: clock.now())
    }

    /// The policy, in order: a retired secret is simply no longer a key; then the hierarchy from
    /// the top, so that a suspended org reports the org, not each of its keys.
    static func decide(_ binding: CredentialBinding, now: UnixMillis) -> KeyResolution {
        if binding.credential.isRetired(at: now) { return .refused(.retired) }
        let levels: [(TenancyLevel, TenantStatus)] = [
            (.org, binding.orgStatus), (.env, binding.envStatus), (.key, binding.key.status),
        ]
        for (level, status) in levels {
            switch status {
            case .active: continue
            case .suspended: return .refused(.suspended(level))
            case .revoked: return .refused(.revoked(level))
            }
        }
        if binding.key.isExpired(at: now) { return .refused(.expired) }
        let key = binding.key
        return .authenticated(KeyIdentity(
            orgID: key.orgID, envID: key.envID, keyID: key.id, keyName: key.name,
            allowedModels: key.allowedModels, expiresAt: key.expiresAt,
            credentialPrefix: binding.credential.displayPrefix, zone: binding.envZone))
    }

    private func refreshIfDue() async throws {
        let now = ContinuousClock.now
        let (due, known, epoch) = index.withLock { state in
            (state.checkedAt.map { now - $0 >= recheckInterval } ?? true, state.generation, state.invalidations)
        }
        guard due else { return }
        let generation = try await store.read { try $0.tenancyGeneration() }
        if generation == known {
            index.withLock { state in
                if state.invalidations == epoch { state.checkedAt = now }
            }
            return
        }
        let (loadedGeneration, bindings) = try await store.read { reader in
            (try reader.tenancyGeneration(), try reader.credentialBindings())
        }
        let byPrefix = Dictionary(bindings.map { ($0.credential.displayPrefix, $0) }, uniquingKeysWith: { first, _ in first })
        index.withLock { state in
            // A slower concurrent reload must not replace a newer index.
            guard loadedGeneration >= state.generation else { return }
            state.byPrefix = byPrefix
            state.generation = loadedGeneration
            state.checkedAt = state.invalidations == epoch ? now : nil
        }
    }
}
