import AirlockAdmin
import AirlockCore
import Foundation

extension DaemonAdmin {
    func setGuardrail(org orgReference: String, monthlySpend: Decimal6?, monthlyTokens: Int64?,
                      onExceed: OrgGuardrail.OnExceed, by actor: AdminActor) async throws -> OrgGuardrail? {
        try await callAllowingEmpty(.PUT, "/admin/v1/orgs/\(Self.component(orgReference))/guardrail",
                                    ["monthly_spend": monthlySpend?.description, "monthly_tokens": monthlyTokens.map { Int($0) },
                                     "on_exceed": onExceed.rawValue], decoder: JSONDecoder())
    }

    func budgets() async throws -> [OrgBudget] { try await snakeCaseList("/admin/v1/guardrails", what: "guardrails") }
}
