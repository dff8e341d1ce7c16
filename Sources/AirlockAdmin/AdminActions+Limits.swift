import AirlockCore
import AirlockStore

/// Which tenant an admin names when changing limits: its level and an id or name (`ORG/ENV` for
/// environments, a key id for keys).
public enum LimitTarget: Sendable {
    case org(String)
    case env(String)
    case key(String)
}

/// A change to one limit field: leave it, set it, or go back to the configured default.
public enum LimitFieldChange: Sendable, Equatable {
    case keep
    case set(Int)
    case inherit

    /// Parses a CLI value: a positive integer, or `default`.
    public static func parse(_ text: String, field: String) throws -> LimitFieldChange {
        if text == "default" { return .inherit }
        guard let value = Int(text) else {
            throw AirlockError.invalidArgument("--\(field): expected a positive integer or 'default', got '\(text)'")
        }
        return .set(value)
    }
}

/// Changes to the five per-tenant limits.
public struct LimitChanges: Sendable {
    public var requestsPerMinute = LimitFieldChange.keep
    public var tokensPerMinute = LimitFieldChange.keep
    public var tokensPerSecond = LimitFieldChange.keep
    public var concurrency = LimitFieldChange.keep
    public var tokensPerDay = LimitFieldChange.keep

    public init() {}

    /// One of the five limits: its name in the API, the CLI's flags and the dashboard's forms;
    /// where it sits in a change and in a limit set; and the largest value accepted — far above
    /// any real appliance, low enough that a typo of extra zeros is caught.
    public struct Field: Sendable {
        public let name: String
        public let change: WritableKeyPath<LimitChanges, LimitFieldChange> & Sendable
        public let value: WritableKeyPath<LimitSet, Int?> & Sendable
        let maximum: Int
    }

    /// The five limits, in the order they are shown.
    public static let fields: [Field] = [
        Field(name: "requests_per_minute", change: \.requestsPerMinute, value: \.requestsPerMinute, maximum: 100_000_000),
        Field(name: "tokens_per_minute", change: \.tokensPerMinute, value: \.tokensPerMinute, maximum: 1_000_000_000_000),
        Field(name: "tokens_per_second", change: \.tokensPerSecond, value: \.tokensPerSecond, maximum: 100_000_000),
        Field(name: "concurrency", change: \.concurrency, value: \.concurrency, maximum: 1_000_000),
        Field(name: "tokens_per_day", change: \.tokensPerDay, value: \.tokensPerDay, maximum: 1_000_000_000_000_000),
    ]

    func applied(to current: LimitSet) throws -> LimitSet {
        var next = current
        for field in Self.fields {
            switch self[keyPath: field.change] {
            case .keep: continue
            case .inherit: next[keyPath: field.value] = nil
            case let .set(value):
                guard (1...field.maximum).contains(value) else {
                    throw AirlockError.invalidArgument("\(field.name) must be between 1 and \(field.maximum), got \(value)")
                }
                next[keyPath: field.value] = value
            }
        }
        return next
    }
}

/// A tenant's override as stored (nil fields inherit the configured default).
public struct LimitOverride: Sendable, Codable {
    public var scope: String
    public var id: String
    public var limits: LimitSet
}

extension AdminActions {
    /// Changes a tenant's limit override; audited as `limits.set` with before/after. Takes
    /// effect at admission's next refresh (within 1 s), without a restart.
    public func setLimits(_ target: LimitTarget, _ changes: LimitChanges, by actor: AdminActor) async throws -> LimitOverride {
        let now = clock.now()
        return try await mutateTenancy { tx in
            let scope = try tx.reader.limitScope(target)
            let before = try tx.reader.limitOverride(scope) ?? LimitSet()
            let after = try changes.applied(to: before)
            try tx.setLimitOverride(scope, after, at: now)
            try tx.audit(auditEntry(actor, "limits.set", type: "limits", id: scope.description, before: before, after: after))
            return LimitOverride(scope: scope.kind, id: scope.id, limits: after)
        }
    }

    /// A tenant's override (all nil when it has none).
    public func limits(_ target: LimitTarget) async throws -> LimitOverride {
        try await store.read { reader in
            let scope = try reader.limitScope(target)
            return LimitOverride(scope: scope.kind, id: scope.id,
                                 limits: try reader.limitOverride(scope) ?? LimitSet())
        }
    }

    /// Sets an org's reserved capacity for a model in CUs (1 CU = 1 token/s); nil removes it.
    public func setReservation(org orgReference: String, model: String, capacityUnits: Int?, by actor: AdminActor) async throws -> Reservation? {
        if let capacityUnits, !(1...10_000_000).contains(capacityUnits) {
            throw AirlockError.invalidArgument("capacity units must be between 1 and 10000000, got \(capacityUnits)")
        }
        _ = try AdminInput.modelList(model)
        if capacityUnits != nil { try await requireLicensed(.reservedCapacity, for: "reserving capacity") }
        let licensedUnits = try await entitlements(self)?.reservedCapacityUnits
        let now = clock.now()
        return try await mutateTenancy { tx in
            let org = try tx.reader.requireOrg(orgReference)
            let before = try tx.reader.reservations().first { $0.orgID == org.id && $0.model == model }
            if let licensedUnits, let capacityUnits {
                let others = try tx.reader.reservations().filter { !($0.orgID == org.id && $0.model == model) }.reduce(0) { $0 + $1.capacityUnits }
                guard others + capacityUnits <= licensedUnits else {
                    throw AirlockError.invalidArgument("the licence allows \(licensedUnits) reserved capacity units in all; \(others) are reserved elsewhere")
                }
            }
            let after = capacityUnits.map { Reservation(orgID: org.id, model: model, capacityUnits: $0) }
            if before == nil && after == nil { throw AirlockError.notFound(kind: "reservation", reference: "\(org.name)/\(model)") }
            try tx.setReservation(org: org.id, model: model, capacityUnits: capacityUnits, at: now)
            try tx.audit(auditEntry(actor, capacityUnits == nil ? "reservation.clear" : "reservation.set", type: "reservation",
                                    id: "\(org.id)/\(model)", before: before, after: after))
            return after
        }
    }

    public func listReservations() async throws -> [Reservation] {
        try await store.read { try $0.reservations() }
    }
}

extension TenancyReader {
    func limitScope(_ target: LimitTarget) throws -> LimitScope {
        switch target {
        case let .org(reference): return .org(try requireOrg(reference).id)
        case let .env(reference): return .env(try requireEnvironment(reference).id)
        case let .key(reference): return .key(try requireKey(reference).id)
        }
    }
}
