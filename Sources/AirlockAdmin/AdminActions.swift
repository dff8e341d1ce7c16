import AirlockCore
import AirlockIdentity
import AirlockLicensing
import AirlockStore
import Foundation

/// Every admin action Airlock has, in one place. The CLI, the admin API and the dashboard are
/// thin front ends over this type, so an action behaves — and is audited — the same whichever
/// way it arrives.
///
/// Each mutation runs in one store transaction together with its audit row (who, what, when,
/// before/after), and then tells the identity resolver that tenancy changed.
public struct AdminActions: Sendable {
    let store: Store
    let hasher: KeyHasher
    let clock: WallClock
    let rotationGraceSeconds: Int64
    let onTenancyChange: @Sendable () -> Void
    /// What the licence allows, asked only by the actions it limits (org count, org-owned nodes,
    /// reserved capacity, zones) — so a command that needs none reads no licence; nil: not
    /// enforced (tests and tools that act on a data dir directly).
    let entitlements: @Sendable (AdminActions) async throws -> Entitlements?
    /// The scrypt cost new password hashes get; tests lower it, nothing else should.
    public var passwordCost = PasswordHash.Cost.standard

    public init(
        store: Store, hasher: KeyHasher, clock: WallClock = .system, rotationGraceSeconds: Int,
        onTenancyChange: @escaping @Sendable () -> Void = {},
        entitlements: @escaping @Sendable (AdminActions) async throws -> Entitlements? = { _ in nil }
    ) {
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.rotationGraceSeconds = Int64(rotationGraceSeconds)
        self.onTenancyChange = onTenancyChange
        self.entitlements = entitlements
    }

    /// Refuses an action the licence does not allow, saying what would allow it.
    func requireLicensed(_ feature: Entitlements.Feature, for action: String) async throws {
        guard let allowed = try await entitlements(self), !allowed.features.contains(feature) else { return }
        throw AirlockError.invalidArgument("\(action) needs the licensed feature '\(feature.rawValue)', which this appliance's licence does not include")
    }

    /// Runs a tenancy mutation and signals the change once it has committed.
    func mutateTenancy<T: Sendable>(_ body: @escaping @Sendable (TenancyWriter) throws -> T) async throws -> T {
        let result = try await store.write(body)
        onTenancyChange()
        return result
    }

    /// The audit row for a change made by `actor` now.
    func auditEntry<Target: Encodable>(
        _ actor: AdminActor, _ action: String, type: String, id: String, before: Target?, after: Target?
    ) -> AuditEntry {
        var beforeJSON: String?
        var afterJSON: String?
        if let before { beforeJSON = Self.json(before) }
        if let after { afterJSON = Self.json(after) }
        return AuditEntry(
            timestamp: clock.now(), actor: actor.name, action: action, targetType: type, targetID: id,
            before: beforeJSON, after: afterJSON)
    }

    /// Stable JSON (sorted keys) for audit before/after columns.
    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }
}

// MARK: - Looking things up by what an admin typed

extension TenancyReader {
    /// An org by id (`org_…`) or by name.
    func requireOrg(_ reference: String) throws -> Org {
        let org = if let id = OrgID(rawValue: reference) { try org(id: id) } else { try org(named: reference) }
        guard let org else { throw AirlockError.notFound(kind: "org", reference: reference) }
        return org
    }

    /// An environment by id (`env_…`), by `ORG/NAME`, or by name within `org`.
    func requireEnvironment(_ reference: String, in org: Org? = nil) throws -> Environment {
        if let id = EnvID(rawValue: reference) {
            guard let env = try environment(id: id), org.map({ $0.id == env.orgID }) ?? true else {
                throw AirlockError.notFound(kind: "env", reference: reference)
            }
            return env
        }
        let parts = reference.split(separator: "/", omittingEmptySubsequences: false)
        let (owner, name): (Org, String)
        switch (parts.count, org) {
        case (2, _):
            (owner, name) = (try requireOrg(String(parts[0])), String(parts[1]))
            if let org, org.id != owner.id { throw AirlockError.notFound(kind: "env", reference: reference) }
        case (1, let org?): (owner, name) = (org, reference)
        default:
            throw AirlockError.invalidArgument("environment '\(reference)': give its id (env_…) or ORG/NAME")
        }
        guard let env = try environment(org: owner.id, named: name) else {
            throw AirlockError.notFound(kind: "env", reference: "\(owner.name)/\(name)")
        }
        return env
    }

    func requireKey(_ reference: String) throws -> APIKey {
        guard let id = KeyID(rawValue: reference) else {
            throw AirlockError.invalidArgument("'\(reference)' is not a key id (key_ followed by 16 hex digits)")
        }
        guard let key = try key(id: id) else { throw AirlockError.notFound(kind: "key", reference: reference) }
        return key
    }
}
