import AirlockAdmin
import AirlockAdminAPI
import AirlockCore
import Foundation
import Hummingbird
import HTTPTypes
import NIOCore

/// Issue H: the chargeback report (this month by default) and where each org stands against its
/// monthly cap — the figures `airlock usage report` and `airlock guardrail list` print.
extension Dashboard {
    static var chargebackPages: [DashboardPage] { [
        DashboardPage(.get, "/chargeback", .readUsage) { dashboard, call in try await dashboard.chargeback(call) },
        DashboardPage(.get, "/chargeback.csv", .readUsage) { dashboard, call in
            let query = try ReportQuery(query: call.query.merging(["format": "csv"]) { _, new in new }, principal: call.principal,
                                        now: dashboard.now)
            let report = try await dashboard.api.actions.chargebackReport(from: query.from, to: query.to, groupBy: query.groupBy, org: query.org)
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8",
                                                   .contentDisposition: "attachment; filename=\"airlock-chargeback.csv\""],
                            body: .init(byteBuffer: ByteBuffer(string: ReportCSV.render(report))))
        },
    ] }

    private func chargeback(_ call: PageCall) async throws -> Response {
        let query = try ReportQuery(query: call.query.filter { ["from", "to", "group_by"].contains($0.key) }, principal: call.principal,
                                    now: now)
        let report = try await api.actions.chargebackReport(from: query.from, to: query.to, groupBy: query.groupBy, org: query.org)
        let money = { (micros: Int64) in Micros.format(micros, places: 2) + (report.currency.map { " " + $0 } ?? "") }
        let groupings = [("org", "org"), ("org,model", "org and model"), ("org,env", "org and env"), ("org,env,key", "org, env and key"),
                         ("model", "model"), ("zone", "zone"), ("org,day", "org and day")]
        let selected = query.groupBy.map(\.rawValue).joined(separator: ",")
        let filter = """
            <form method="get" action="/chargeback" id="chargeback-filter">\
            \(HTML.select("group_by", label: "Group by", options: groupings, selected: selected))\
            <label>From <input name="from" value="\(HTML.text(query.from.description))"></label>\
            <label>To <input name="to" value="\(HTML.text(query.to.description))"></label>\
            <button type="submit">Show</button></form>
            """
        let rows = report.lines.map { line in
            query.groupBy.map { HTML.text(line.label($0)) }
                + ["\(line.requests)", "\(line.totalTokens)", HTML.text(money(line.costMicros))]
        }
        let headers = query.groupBy.map(\.rawValue) + ["requests", "tokens", "cost"]
        let reservations = report.reservations.map {
            [HTML.text($0.orgName.isEmpty ? $0.orgID : $0.orgName), HTML.text($0.model), Micros.format(Micros.hours(fromMillis: $0.capacityUnitMillis), places: 1),
             HTML.text(money($0.costMicros))]
        }
        let budgets = try await api.actions.budgets().filter { call.principal.sees(org: $0.guardrail.orgID) }.map {
            [HTML.text($0.orgName), HTML.text($0.guardrail.capsDescription), "\($0.percentUsed) %", HTML.text($0.level.rawValue),
             HTML.text($0.guardrail.onExceed.rawValue)]
        }
        let csv = "/chargeback.csv?group_by=\(selected)&from=\(query.from.description)&to=\(query.to.description)"
        let body = filter
            + "<p class=\"note\" id=\"chargeback-head\">\(report.rows) ledger row\(report.rows == 1 ? "" : "s") from \(HTML.text(query.from.description)) to "
            + "\(HTML.text(query.to.description)), read at ledger head \(report.headSeq) (\(HTML.text(String(report.headHash.prefix(16))))…). "
            + "Total \(HTML.text(money(report.totals.costMicros))) for \(report.totals.totalTokens) tokens.</p>"
            + HTML.table(id: "chargeback-table", headers, rows, empty: "No served requests in this period.")
            + "<p>" + HTML.link(csv, "Download CSV", id: "chargeback-csv") + "</p>"
            + "<h2>Reserved capacity</h2>" + HTML.table(id: "reservation-charges", ["org", "model", "CU-hours", "cost"], reservations,
                                                       empty: "No reserved capacity held in this period.")
            + "<h2>Monthly caps</h2>" + HTML.table(id: "budgets", ["org", "caps", "used", "level", "past the cap"], budgets,
                                                  empty: "No org has a monthly cap (airlock guardrail set).")
        return call.page("Chargeback", active: "/chargeback", body)
    }
}
