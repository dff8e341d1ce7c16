import AirlockCore
import AirlockStore

extension AdminActions {
    /// Sets an org's monthly cap — spend (in the price table's currency) and/or tokens — and what
    /// happens past it; with neither cap, removes the guardrail. Audited.
    public func setGuardrail(org orgReference: String, monthlySpend: Decimal6?, monthlyTokens: Int64?,
                             onExceed: OrgGuardrail.OnExceed, by actor: AdminActor) async throws -> OrgGuardrail? {
        if let monthlySpend, monthlySpend.micros <= 0 {
            throw AirlockError.invalidArgument("the monthly spend cap must be above 0 (omit it for no spend cap)")
        }
        if let monthlyTokens, monthlyTokens <= 0 {
            throw AirlockError.invalidArgument("the monthly token cap must be above 0 (omit it for no token cap)")
        }
        let now = clock.now()
        return try await mutateTenancy { [self] tx in
            let org = try tx.reader.requireOrg(orgReference)
            let before = try tx.reader.budgets(at: now).first { $0.guardrail.orgID == org.id }?.guardrail
            let after = monthlySpend == nil && monthlyTokens == nil ? nil
                : OrgGuardrail(orgID: org.id, monthlySpendMicros: monthlySpend?.micros, monthlyTokens: monthlyTokens,
                               onExceed: onExceed, updatedAt: now)
            if before == nil, after == nil { throw AirlockError.notFound(kind: "guardrail", reference: org.name) }
            try tx.setGuardrail(after, org: org.id)
            try tx.audit(auditEntry(actor, after == nil ? "guardrail.clear" : "guardrail.set", type: "org", id: org.id.rawValue,
                                    before: before, after: after))
            return after
        }
    }

    /// Every org with a guardrail and where it stands this month (UTC).
    public func budgets() async throws -> [OrgBudget] {
        let now = clock.now()
        return try await store.read { try $0.budgets(at: now) }
    }
}
