import AirlockAdmin
import AirlockCore
import Foundation
import NIOFoundationCompat

/// Reconciliation on demand: the daemon's own run over the counters it holds (the job in
/// `airlockd serve` runs the same on a timer). Needs `infrastructure.manage`, as a repair
/// rewrites the admission counters.
extension AdminAPI {
    static var reconcileRoutes: [AdminRoute] {
        [
            AdminRoute(.post, "/admin/v1/reconcile", .permission(.manageInfrastructure),
                       "reconcile the counters, the ledger and the licence reports") { api, call in
                let repair = try ReconcileBody.read(call)
                guard let reconciler = api.dependencies.reconciler else {
                    throw AirlockError.invalidArgument("reconciliation is not available here: no counters behind this API")
                }
                return try .json(try await reconciler.reconcile(repair: repair, actor: call.principal.actor.name))
            },
        ]
    }

    /// `{"repair": true|false}`, nothing else; `repair` is required so that a run that rewrites
    /// counters is always asked for in so many words.
    private struct ReconcileBody: Decodable {
        var repair: Bool

        static func read(_ call: AdminCall) throws -> Bool {
            let body = try call.json(allowing: ["repair"])
            guard body.has("repair"), !body.isNull("repair") else { throw AirlockError.invalidArgument("repair is required: true or false") }
            guard let decoded = try? JSONDecoder().decode(Self.self, from: call.body) else {
                throw AirlockError.invalidArgument("repair must be true or false")
            }
            return decoded.repair
        }
    }
}
