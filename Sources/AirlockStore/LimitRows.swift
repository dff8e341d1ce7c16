import AirlockCore
import GRDB

/// Which tenant a limit override belongs to.
public enum LimitScope: Hashable, Sendable, CustomStringConvertible {
    case org(OrgID)
    case env(EnvID)
    case key(KeyID)

    /// `org`, `env` or `key`.
    public var kind: String {
        switch self {
        case .org: return "org"
        case .env: return "env"
        case .key: return "key"
        }
    }

    public var id: String {
        switch self {
        case let .org(id): return id.rawValue
        case let .env(id): return id.rawValue
        case let .key(id): return id.rawValue
        }
    }

    public var description: String { "\(kind) \(id)" }

    static func decode(type: String, id: String) -> LimitScope? {
        switch type {
        case "org": return .org(OrgID(unchecked: id))
        case "env": return .env(EnvID(unchecked: id))
        case "key": return .key(KeyID(unchecked: id))
        default: return nil
        }
    }
}

/// An org's reserved capacity for one model: 1 CU = 1 guaranteed token/s (seed 004 § 17).
public struct Reservation: Codable, Sendable, Equatable {
    public var orgID: OrgID
    public var model: String
    public var capacityUnits: Int

    public init(orgID: OrgID, model: String, capacityUnits: Int) {
        self.orgID = orgID
        self.model = model
        self.capacityUnits = capacityUnits
    }
}

extension TenancyReader {
    /// Every override; a nil field inherits the configured default.
    public func limitOverrides() throws -> [LimitScope: LimitSet] {
        var result: [LimitScope: LimitSet] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM limit_overrides") {
            guard let scope = LimitScope.decode(type: row["scope_type"], id: row["scope_id"]) else { continue }
            result[scope] = LimitSet(row: row)
        }
        return result
    }

    public func limitOverride(_ scope: LimitScope) throws -> LimitSet? {
        try Row.fetchOne(db, sql: "SELECT * FROM limit_overrides WHERE scope_type = ? AND scope_id = ?",
                         arguments: [scope.kind, scope.id]).map(LimitSet.init(row:))
    }

    public func reservations() throws -> [Reservation] {
        try Row.fetchAll(db, sql: "SELECT * FROM reservations ORDER BY org_id, model").map { row in
            Reservation(orgID: OrgID(unchecked: row["org_id"]), model: row["model"], capacityUnits: row["capacity_units"])
        }
    }
}

extension TenancyWriter {
    /// Stores `limits` as the override for `scope`; an all-nil set removes the override.
    public func setLimitOverride(_ scope: LimitScope, _ limits: LimitSet, at instant: UnixMillis) throws {
        if limits == LimitSet() {
            try db.execute(sql: "DELETE FROM limit_overrides WHERE scope_type = ? AND scope_id = ?", arguments: [scope.kind, scope.id])
            return
        }
        try db.execute(
            sql: """
                INSERT INTO limit_overrides (scope_type, scope_id, requests_per_minute, tokens_per_minute, tokens_per_second,
                    concurrency, tokens_per_day, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (scope_type, scope_id) DO UPDATE SET
                    requests_per_minute = excluded.requests_per_minute, tokens_per_minute = excluded.tokens_per_minute,
                    tokens_per_second = excluded.tokens_per_second, concurrency = excluded.concurrency,
                    tokens_per_day = excluded.tokens_per_day, updated_at = excluded.updated_at
                """,
            arguments: [scope.kind, scope.id, limits.requestsPerMinute, limits.tokensPerMinute, limits.tokensPerSecond,
                        limits.concurrency, limits.tokensPerDay, instant.value])
    }

    /// Sets (or, with nil, removes) an org's reserved capacity for a model.
    public func setReservation(org: OrgID, model: String, capacityUnits: Int?, at instant: UnixMillis) throws {
        guard let capacityUnits else {
            try db.execute(sql: "DELETE FROM reservations WHERE org_id = ? AND model = ?", arguments: [org.rawValue, model])
            // The history's insert and update triggers see the new row's time; a removal has none.
            if db.changesCount > 0 {
                try db.execute(sql: "INSERT INTO reservation_changes (org_id, model, capacity_units, changed_at) VALUES (?, ?, 0, ?)",
                               arguments: [org.rawValue, model, instant.value])
            }
            return
        }
        try db.execute(
            sql: """
                INSERT INTO reservations (org_id, model, capacity_units, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (org_id, model) DO UPDATE SET capacity_units = excluded.capacity_units, updated_at = excluded.updated_at
                """,
            arguments: [org.rawValue, model, capacityUnits, instant.value])
    }
}

extension LimitSet {
    init(row: Row) {
        self.init(
            requestsPerMinute: row["requests_per_minute"], tokensPerMinute: row["tokens_per_minute"],
            tokensPerSecond: row["tokens_per_second"], concurrency: row["concurrency"], tokensPerDay: row["tokens_per_day"])
    }
}
