import AirlockCore
import AirlockStore
import Synchronization

/// The limits in force for each request: the `[limits.*]` defaults from airlock.toml, replaced
/// field by field by any per-org/env/key override in SQLite, plus the org's reserved capacity.
///
/// Lookups are in-memory (admission runs inside an LMDB transaction and must not wait on
/// SQLite). ``refresh()`` reloads when the tenancy generation moved — an admin change, from any
/// process — and the daemon calls it at least once a second, which is how a limit change takes
/// effect within 1 s without a restart.
public final class LimitPolicy: Sendable {
    private struct Snapshot: Sendable {
        var generation: Int64 = -1
        var overrides: [LimitScope: LimitSet] = [:]
        var reservations: [ReservationKey: Int] = [:]
    }

    /// Keyed by value, so a lookup on the request path builds no string.
    struct ReservationKey: Hashable, Sendable {
        var org: OrgID
        var model: String
    }

    private let defaults: AirlockConfig.Limits
    private let store: Store
    private let snapshot = Mutex(Snapshot())

    public init(defaults: AirlockConfig.Limits, store: Store) {
        self.defaults = defaults
        self.store = store
    }

    /// Reloads overrides and reservations if anything changed since the last load.
    public func refresh() async throws {
        let known = snapshot.withLock { $0.generation }
        let current = try await store.read { try $0.tenancyGeneration() }
        guard current != known else { return }
        let loaded = try await store.read { reader in
            Snapshot(
                generation: try reader.tenancyGeneration(), overrides: try reader.limitOverrides(),
                reservations: Dictionary(try reader.reservations().map { (ReservationKey(org: $0.orgID, model: $0.model), $0.capacityUnits) },
                                         uniquingKeysWith: { first, _ in first }))
        }
        snapshot.withLock { state in
            if loaded.generation >= state.generation { state = loaded }
        }
    }

    public func limits(for request: AdmissionRequest) -> EffectiveLimits {
        snapshot.withLock { state in
            EffectiveLimits(
                global: defaults.global,
                org: defaults.org.overridden(by: state.overrides[.org(request.orgID)]),
                env: defaults.env.overridden(by: state.overrides[.env(request.envID)]),
                key: defaults.key.overridden(by: state.overrides[.key(request.keyID)]),
                maxTokensPerRequest: defaults.maxTokensPerRequest, maxRequestBytes: defaults.maxRequestBytes,
                reservedTokensPerSecond: state.reservations[ReservationKey(org: request.orgID, model: request.model)] ?? 0)
        }
    }
}

extension LimitSet {
    /// These defaults with every field the override sets replaced.
    func overridden(by override: LimitSet?) -> LimitSet {
        guard let override else { return self }
        return LimitSet(
            requestsPerMinute: override.requestsPerMinute ?? requestsPerMinute,
            tokensPerMinute: override.tokensPerMinute ?? tokensPerMinute,
            tokensPerSecond: override.tokensPerSecond ?? tokensPerSecond,
            concurrency: override.concurrency ?? concurrency,
            tokensPerDay: override.tokensPerDay ?? tokensPerDay)
    }
}
