import AirlockCore
import AirlockStore
import Foundation
import Synchronization

/// The per-org monthly caps (issue H, seed 004 § 42), as the request path reads them: refreshed
/// from `org_guardrails` and `usage_monthly` every second by the daemon, read in memory for each
/// request. Spend is what the ledger has committed, so a cap can be overshot by the requests in
/// flight when it is crossed and by at most one refresh interval — the price of never putting a
/// database read on the request path.
public final class SpendGuard: Sendable {
    /// What the gateway does for one request.
    public enum Verdict: Sendable, Equatable {
        /// No guardrail, or under 80 %.
        case allow
        /// Serve, and say so in `x-airlock-budget-warning`.
        case warn(String)
        /// 403 `quota_exceeded` with this message.
        case refuse(String)
    }

    private struct State {
        var budgets: [OrgID: OrgBudget] = [:]
        /// Models each org holds reserved capacity for: that traffic is never refused here.
        var reserved: Set<LimitPolicy.ReservationKey> = []
        /// (org, month, level) already in the audit log, so each crossing is audited once.
        var audited: Set<String> = []
    }

    private let store: Store
    private let clock: WallClock
    private let state = Mutex(State())

    public init(store: Store, clock: WallClock = .system) {
        self.store = store
        self.clock = clock
    }

    /// Reloads every budget and audits each org's first crossing of 80 % and of 100 % in a month
    /// (`guardrail.warning`, `guardrail.exceeded`, target `org_…@YYYY-MM`).
    public func refresh() async throws {
        let now = clock.now()
        let (budgets, reserved) = try await store.read { reader in
            (try reader.budgets(at: now), Set(try reader.reservations().map { LimitPolicy.ReservationKey(org: $0.orgID, model: $0.model) }))
        }
        let alreadyAudited = state.withLock { $0.audited }
        var newlyAudited: Set<String> = []
        for budget in budgets where budget.level != .ok {
            let action = budget.level == .exceeded ? "guardrail.exceeded" : "guardrail.warning"
            let target = "\(budget.guardrail.orgID.rawValue)@\(UTCCalendar.isoDate(budget.month).prefix(7))"
            let key = "\(action)|\(target)"
            guard !alreadyAudited.contains(key) else { continue }
            let entry = AuditEntry(timestamp: now, actor: "airlockd", action: action, targetType: "org", targetID: target,
                                   before: nil, after: Self.describe(budget))
            try await store.write { tx in
                if try !tx.reader.hasAuditRow(action: action, targetID: target) { _ = try tx.audit(entry) }
            }
            newlyAudited.insert(key)
        }
        state.withLock { state in
            state.budgets = Dictionary(budgets.map { ($0.guardrail.orgID, $0) }, uniquingKeysWith: { first, _ in first })
            state.reserved = reserved
            state.audited.formUnion(newlyAudited)
        }
    }

    public func verdict(org: OrgID, model: String) -> Verdict {
        state.withLock { state in
            guard let budget = state.budgets[org], budget.level != .ok else { return .allow }
            let used = "\(budget.percentUsed)% of its monthly cap"
            if budget.level == .exceeded, budget.guardrail.onExceed == .refuse, !state.reserved.contains(LimitPolicy.ReservationKey(org: org, model: model)) {
                return .refuse("This organization has used \(used); serverless requests are refused until next month or until an administrator raises the cap.")
            }
            return .warn("org at \(used)")
        }
    }

    /// Every budget as last loaded, for the dashboard's banner and `/admin/v1/guardrails`.
    public var budgets: [OrgBudget] {
        state.withLock { Array($0.budgets.values) }.sorted { ($0.orgName, $0.guardrail.orgID.rawValue) < ($1.orgName, $1.guardrail.orgID.rawValue) }
    }

    private static func describe(_ budget: OrgBudget) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(budget), as: UTF8.self)) ?? "{}"
    }
}
