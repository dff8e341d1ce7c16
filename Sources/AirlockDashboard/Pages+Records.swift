import AirlockAdmin
import AirlockAdminAPI
import AirlockCore
import Foundation
import Hummingbird
import HTTPTypes
import NIOCore

/// The overview, usage (chart, table, CSV) and the audit log.
extension Dashboard {
    static var recordPages: [DashboardPage] { [
        DashboardPage(.get, "/", nil) { dashboard, call in try await dashboard.overview(call) },
        DashboardPage(.get, "/usage", .readUsage) { dashboard, call in try await dashboard.usage(call) },
        DashboardPage(.get, "/usage.csv", .readUsage) { dashboard, call in
            let query = try UsageQuery(query: call.query, principal: call.principal, now: dashboard.now)
            let points = try await dashboard.api.dependencies.ledger.usageSeries(
                from: query.from, to: query.to, bucketSeconds: query.bucketSeconds, groupBy: query.groupBy, org: query.org)
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8",
                                                   .contentDisposition: "attachment; filename=\"airlock-usage.csv\""],
                            body: .init(byteBuffer: ByteBuffer(string: UsageCSV.render(points))))
        },
        DashboardPage(.get, "/audit", .readAudit) { dashboard, call in try await dashboard.audit(call) },
    ] }

    private func overview(_ call: PageCall) async throws -> Response {
        var cards: [(String, String, String)] = []
        if let traffic = traffic() {
            cards.append(("req-rate", String(format: "%.2f", traffic.requestsPerSecond), "requests/s (last \(traffic.seconds / 60) min)"))
            cards.append(("error-rate", String(format: "%.1f %%", traffic.errorRate * 100), "engine or server errors"))
        }
        if call.principal.may(.readUsage) {
            let from = UnixMillis(now.value - 300_000)
            let points = try await api.dependencies.ledger.usageSeries(from: from, to: now, bucketSeconds: 60, groupBy: .model, org: call.principal.orgID)
            let tokens = points.reduce(Int64(0)) { $0 + $1.totalTokens }
            cards.append(("token-rate", String(format: "%.1f", Double(tokens) / 300), "tokens/s served (last 5 min)"))
        }
        if call.principal.may(.readInfrastructure) {
            let nodes = try await api.nodeViews()
            let up = nodes.filter { $0.live?.state == "active" }.count
            cards.append(("nodes-up", "\(up) / \(nodes.count)", "nodes serving"))
            if let license = api.dependencies.license() {
                let days = license.daysLeft.map { "\($0) days left" } ?? license.state.rawValue
                cards.append(("license", HTML.text(days), "licence: \(license.state.rawValue)"))
            }
        }
        let body = try await budgetBanners(call) + "<div class=\"cards\">" + cards.map { id, value, label in
            "<div class=\"card\" id=\"\(id)\"><div class=\"value\">\(HTML.text(value))</div><div class=\"label\">\(HTML.text(label))</div></div>"
        }.joined() + "</div>"
        return call.page("Overview", active: "/", body)
    }

    /// One banner per org (that the principal may see) at 80 % or more of a monthly cap.
    private func budgetBanners(_ call: PageCall) async throws -> String {
        guard call.principal.may(.readUsage) else { return "" }
        return try await api.actions.budgets().filter { $0.level != .ok && call.principal.sees(org: $0.guardrail.orgID) }.map { budget in
            let past = budget.level == .exceeded
                ? (budget.guardrail.onExceed == .refuse ? " Its serverless requests are refused until next month." : " It is past the cap (warn only).")
                : ""
            return "<p class=\"error\" id=\"budget-\(HTML.text(budget.guardrail.orgID.rawValue))\">Org \(HTML.text(budget.orgName)) "
                + "has used \(budget.percentUsed) % of its monthly cap.\(past)</p>"
        }.joined()
    }

    private func usage(_ call: PageCall) async throws -> Response {
        let query = try UsageQuery(query: call.query, principal: call.principal, now: now)
        let metric = UsageChart.Metric(rawValue: call.query["metric"] ?? "requests") ?? .requests
        let points = try await api.dependencies.ledger.usageSeries(
            from: query.from, to: query.to, bucketSeconds: query.bucketSeconds, groupBy: query.groupBy, org: query.org)
        var totals: [String: (Int, Int64, Int64)] = [:]
        for point in points {
            let sum = totals[point.label] ?? (0, 0, 0)
            totals[point.label] = (sum.0 + point.requests, sum.1 + point.promptTokens, sum.2 + point.completionTokens)
        }
        let rows = totals.sorted { $0.key < $1.key }.map { label, sum in
            [HTML.text(label), "\(sum.0)", "\(sum.1)", "\(sum.2)", "\(sum.1 + sum.2)"]
        }
        let bucket = UsageQuery.bucketName(query.bucketSeconds)
        let selectors = """
            <form method="get" action="/usage" id="usage-filter">\
            \(HTML.select("group_by", label: "Group by", options: UsageGrouping.allCases.map { ($0.rawValue, $0.rawValue) }, selected: query.groupBy.rawValue))\
            \(HTML.select("bucket", label: "Bucket", options: [("minute", "minute"), ("hour", "hour"), ("day", "day")], selected: bucket))\
            \(HTML.select("metric", label: "Show", options: [("requests", "requests"), ("tokens", "tokens")], selected: metric.rawValue))\
            <button type="submit">Show</button></form>
            """
        let csv = "/usage.csv?group_by=\(query.groupBy.rawValue)&bucket=\(bucket)&from=\(query.from.description)&to=\(query.to.description)"
        let body = selectors
            + "<p class=\"note\">Served requests from the usage ledger, \(HTML.text(query.from.description)) to \(HTML.text(query.to.description)), by \(bucket).</p>"
            + "<div class=\"chart\">" + UsageChart.svg(points, from: query.from, to: query.to, bucketSeconds: query.bucketSeconds, metric: metric) + "</div>"
            + "<h2>Totals</h2>" + HTML.table(id: "usage-table", [query.groupBy.rawValue, "requests", "prompt tokens", "completion tokens", "total tokens"],
                                             rows, empty: "No served requests in this period.")
            + "<p>" + HTML.link(csv, "Download CSV", id: "usage-csv") + "</p>"
        return call.page("Usage", active: "/usage", body)
    }

    private func audit(_ call: PageCall) async throws -> Response {
        let before = call.query["before"].flatMap { Int64($0) }
        let actionPrefix = call.query["action"].flatMap { $0.isEmpty ? nil : $0 }
        let actor = call.query["actor"].flatMap { $0.isEmpty ? nil : $0 }
        let rows = try await api.dependencies.ledger.auditPage(beforeSeq: before, limit: 51, actionPrefix: actionPrefix, actor: actor)
        let page = rows.prefix(50)
        let table = HTML.table(id: "audit-table", ["#", "Time", "Actor", "Action", "Target", "Details"], page.map { record in
            let entry = record.entry
            let details = [entry.before.map { "before: " + $0 }, entry.after.map { "after: " + $0 }].compactMap { $0 }.joined(separator: "\n")
            return ["\(record.seq)", HTML.text(entry.timestamp.description), HTML.text(entry.actor), HTML.text(entry.action),
                    HTML.text("\(entry.targetType) \(entry.targetID)"), "<code>\(HTML.text(String(details.prefix(400))))</code>"]
        }, empty: "No audit rows match.")
        var body = """
            <form method="get" action="/audit" id="audit-filter">\(HTML.input("action", label: "Action starts with"))\
            \(HTML.input("actor", label: "Actor (e.g. user:alice)"))<button type="submit">Filter</button></form>
            """
        if call.query["verify"] == "1" {
            let audit = try await api.dependencies.ledger.verifyAuditLog()
            let ledger = try await api.dependencies.ledger.verifyLedger()
            body += "<div class=\"cards\" id=\"verification\">" + [audit, ledger].map { report in
                "<div class=\"card\"><div class=\"value\">\(HTML.badge(report.isIntact ? "intact" : "broken"))</div><div class=\"label\">\(HTML.text(report.chain)): \(report.rowsChecked) rows checked</div></div>"
            }.joined() + "</div>"
        } else {
            body += "<p>\(HTML.link("/audit?verify=1", "Verify the audit log and usage ledger chains"))</p>"
        }
        body += table
        if rows.count > 50, let last = page.last {
            var next = "/audit?before=\(last.seq)"
            if let actionPrefix { next += "&action=\(actionPrefix.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? "")" }
            if let actor { next += "&actor=\(actor.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? "")" }
            body += "<p>\(HTML.link(next, "Older rows"))</p>"
        }
        return call.page("Audit log", active: "/audit", body)
    }
}
