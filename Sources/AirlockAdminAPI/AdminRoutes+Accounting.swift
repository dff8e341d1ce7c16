import AirlockAdmin
import AirlockCore
import Foundation
import NIOCore
import NIOFoundationCompat

/// Issue H: the price table's versions, the orgs' spend guardrails and chargeback reports.
extension AdminAPI {
    static var accountingRoutes: [AdminRoute] {
        [
            AdminRoute(.get, "/admin/v1/prices", .permission(.readInfrastructure), "list price versions") { api, call in
                try .json(AdminPage.of(try await api.actions.priceVersions(), id: { String($0.version) }, call: call))
            },
            AdminRoute(.post, "/admin/v1/prices", .permission(.managePrices), "add a price version") { api, call in
                let request = try PriceVersionRequest.decode(json: Data(buffer: call.body))
                return try .json(try await api.actions.addPriceVersion(request.table, effectiveFrom: try request.start(),
                                                                      by: call.principal.actor), status: .created)
            },
            AdminRoute(.get, "/admin/v1/guardrails", .permission(.readUsage), "list guardrails") { api, call in
                let visible = try await api.actions.budgets().filter { call.principal.sees(org: $0.guardrail.orgID) }
                return try .json(AdminPage.of(visible, id: { $0.guardrail.orgID.rawValue }, call: call))
            },
            AdminRoute(.put, "/admin/v1/orgs/{org}/guardrail", .permission(.managePrices), "set or clear a guardrail") { api, call in
                let org = try await api.scopedOrg(call)
                let body = try call.json(allowing: ["monthly_spend", "monthly_tokens", "on_exceed"])
                let spend = try body.string("monthly_spend").map { text -> Decimal6 in
                    guard let micros = Micros.parse(text) else {
                        throw AirlockError.invalidArgument("monthly_spend must be a decimal string such as \"2500.00\"")
                    }
                    return Decimal6(micros: micros)
                }
                let onExceedText = try body.string("on_exceed") ?? "refuse"
                guard let onExceed = OrgGuardrail.OnExceed(rawValue: onExceedText) else {
                    throw AirlockError.invalidArgument("on_exceed must be refuse or warn")
                }
                let guardrail = try await api.actions.setGuardrail(
                    org: org.id.rawValue, monthlySpend: spend, monthlyTokens: try body.integer("monthly_tokens").map(Int64.init),
                    onExceed: onExceed, by: call.principal.actor)
                return guardrail.map { try? AdminReply.json($0) }.flatMap { $0 } ?? .noContent
            },
            AdminRoute(.get, "/admin/v1/usage/finops", .permission(.readInfrastructure), "finops report") { api, call in
                let query = try ReportQuery(query: call.query.filter { $0.key == "from" || $0.key == "to" }, principal: call.principal,
                                            now: api.dependencies.clock.now())
                return try .json(try await api.actions.finOpsReport(from: query.from, to: query.to))
            },
            AdminRoute(.get, "/admin/v1/usage/report", .permission(.readUsage), "chargeback report") { api, call in
                let query = try ReportQuery(query: call.query, principal: call.principal, now: api.dependencies.clock.now())
                let report = try await api.actions.chargebackReport(from: query.from, to: query.to, groupBy: query.groupBy,
                                                                    org: query.org)
                if query.csv {
                    return AdminReply(status: .ok, contentType: "text/csv; charset=utf-8", body: ByteBuffer(string: ReportCSV.render(report)))
                }
                return try .json(report)
            },
        ]
    }
}
