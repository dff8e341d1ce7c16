import AirlockAdmin
import AirlockCore
import AirlockStore
import Foundation
import NIOCore

/// Usage (from the ledger) and the audit log: reading, never writing.
extension AdminAPI {
    static var usageAndAuditRoutes: [AdminRoute] {
        let audit = AdminRoute.Access.permission(.readAudit)
        return [
            AdminRoute(.get, "/admin/v1/usage", .permission(.readUsage), "query usage") { api, call in
                let query = try UsageQuery(call, now: api.dependencies.clock.now())
                let points = try await api.dependencies.ledger.usageSeries(
                    from: query.from, to: query.to, bucketSeconds: query.bucketSeconds, groupBy: query.groupBy, org: query.org)
                if call.query("format") == "csv" {
                    return AdminReply(status: .ok, contentType: "text/csv; charset=utf-8", body: ByteBuffer(string: UsageCSV.render(points)))
                }
                return try .json(UsageAnswer(from: query.from, to: query.to, bucketSeconds: query.bucketSeconds,
                                             groupBy: query.groupBy, points: points))
            },
            AdminRoute(.get, "/admin/v1/audit", audit, "read the audit log") { api, call in
                let limit = try AdminPage<AuditRecord>.limit(call)
                let before = try call.query("before").map { text -> Int64 in
                    guard let seq = Int64(text), seq > 0 else { throw AirlockError.invalidArgument("before must be a positive row number") }
                    return seq
                }
                let rows = try await api.dependencies.ledger.auditPage(beforeSeq: before, limit: limit + 1, actionPrefix: call.query("action"),
                                                                      actor: call.query("actor"))
                let page = Array(rows.prefix(limit))
                return try .json(AuditPage(data: page, hasMore: rows.count > limit, nextBefore: rows.count > limit ? page.last?.seq : nil))
            },
            AdminRoute(.get, "/admin/v1/audit/verify", audit, "verify the audit log's chain") { api, _ in
                try .json(try await api.dependencies.ledger.verifyAuditLog())
            },
            AdminRoute(.get, "/admin/v1/ledger/verify", audit, "verify the usage ledger's chain") { api, _ in
                try .json(try await api.dependencies.ledger.verifyLedger())
            },
            AdminRoute(.get, "/admin/v1/upgrades", audit, "the running release and the upgrade history") { api, _ in
                let rows = try await api.dependencies.ledger.auditPage(beforeSeq: nil, limit: 200, actionPrefix: "upgrade.", actor: nil)
                return try .json(UpgradesAnswer(running: api.dependencies.release, history: rows))
            },
            AdminRoute(.post, "/admin/v1/upgrades/agents", .permission(.manageInfrastructure), "roll the agent out to the nodes") { api, call in
                guard let rollouts = api.dependencies.agentRollouts else { throw AirlockError.invalidArgument("agent roll-outs are not available here") }
                return try .json(try await rollouts.start(actor: call.principal.actor.name), status: .accepted)
            },
            AdminRoute(.get, "/admin/v1/upgrades/agents", .permission(.readInfrastructure), "the agent roll-out") { api, _ in
                guard let status = api.dependencies.agentRollouts?.latest() else {
                    throw AirlockError.notFound(kind: "agent roll-out", reference: "since the daemon started")
                }
                return try .json(status)
            },
        ]
    }

    /// `airlock upgrade` checks `running.release` after a restart: the new release, not merely a
    /// daemon, must be what answers.
    struct UpgradesAnswer: Encodable, Sendable {
        var running: RunningRelease
        /// `upgrade.*` audit rows, newest first (at most 200).
        var history: [AuditRecord]
    }

    struct AuditPage: Encodable, Sendable {
        var object = "list"
        var data: [AuditRecord]
        var hasMore: Bool
        /// Pass as `?before=` for the next (older) page.
        var nextBefore: Int64?
    }

    struct UsageAnswer: Encodable, Sendable {
        var from: UnixMillis
        var to: UnixMillis
        var bucketSeconds: Int64
        var groupBy: UsageGrouping
        var points: [UsagePoint]
    }
}

/// `?from=&to=&bucket=&group_by=&org=` of a usage query. An org-admin's is always their own org.
public struct UsageQuery: Sendable {
    public var from: UnixMillis
    public var to: UnixMillis
    public var bucketSeconds: Int64
    public var groupBy: UsageGrouping
    public var org: OrgID?

    static let buckets: [String: Int64] = ["minute": 60, "hour": 3_600, "day": 86_400]

    public static func bucketName(_ seconds: Int64) -> String { buckets.first { $0.value == seconds }?.key ?? "hour" }

    init(_ call: AdminCall, now: UnixMillis) throws {
        try self.init(query: call.query, principal: call.principal, now: now)
    }

    /// How far back a query without `from` reaches, per bucket: a chart of 60, 24 and 30 bars.
    static let defaultSpans: [Int64: Int64] = [60: 3_600, 3_600: 86_400, 86_400: 30 * 86_400]

    /// Defaults: by the hour, grouped by org, over the last hour / day / 30 days for minute /
    /// hour / day buckets.
    public init(query: [String: String], principal: AdminPrincipal, now: UnixMillis) throws {
        func time(_ name: String) throws -> UnixMillis? { try AdminInput.instant(query[name], name: name) }
        let bucket = query["bucket"] ?? "hour"
        guard let seconds = Self.buckets[bucket] else { throw AirlockError.invalidArgument("bucket must be minute, hour or day") }
        bucketSeconds = seconds
        to = try time("to") ?? now
        from = try time("from") ?? UnixMillis(to.value - (Self.defaultSpans[seconds] ?? 86_400) * 1000)
        let grouping = query["group_by"] ?? "org"
        guard let groupBy = UsageGrouping(rawValue: grouping) else { throw AirlockError.invalidArgument("group_by must be org, env, model or zone") }
        self.groupBy = groupBy
        if let own = principal.orgID {
            org = own
        } else if let text = query["org"] {
            guard let id = OrgID(rawValue: text) else { throw AirlockError.invalidArgument("org must be an org id (org_…)") }
            org = id
        }
    }
}

/// Usage as CSV for spreadsheets: one row per bucket and group, times in ISO 8601 UTC.
public enum UsageCSV {
    public static func render(_ points: [UsagePoint]) -> String {
        var lines = ["bucket_start,group,label,requests,prompt_tokens,completion_tokens,total_tokens"]
        for point in points {
            lines.append([point.bucketStart.description, field(point.group), field(point.label), "\(point.requests)",
                          "\(point.promptTokens)", "\(point.completionTokens)", "\(point.totalTokens)"].joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func field(_ text: String) -> String { CSVField.safe(text) }
}
