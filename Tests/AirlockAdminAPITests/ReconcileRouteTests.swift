import AirlockAdminAPI
import AirlockCore
import AirlockTestSupport
import Hummingbird
import HummingbirdTesting
import Testing

/// `POST /admin/v1/reconcile` in front of a reconciler that only records what it was asked:
/// the body is read strictly, and only a well-formed request reaches the counters.
@Suite struct ReconcileRouteTests {
    final class RecordingReconciler: UsageReconciler {
        let calls = Shared<[(repair: Bool, actor: String)]>([])

        func reconcile(repair: Bool, actor: String) async throws -> ReconciliationReport {
            calls.update { $0.append((repair, actor)) }
            return ReconciliationReport(checkedAt: UnixMillis(1_800_000_000_000), ledgerRows: 3, scopesChecked: 4, counterDrift: [],
                                        countersRepaired: false, chains: [], licenseReports: [])
        }
    }

    /// The fixture's API with `reconciler` behind it.
    static func withClient(_ f: AdminAPIFixture, _ reconciler: RecordingReconciler,
                           _ body: @escaping @Sendable (AdminClient) async throws -> Void) async throws {
        var dependencies = f.api.dependencies
        dependencies.reconciler = reconciler
        let router = Router<BasicRequestContext>()
        AdminAPI(dependencies).add(to: router)
        try await Application(router: router).test(.router) { client in try await body(AdminClient(client: client, fixture: f)) }
    }

    @Test func aBadBodyIsA400AndReconcilesNothing() async throws {
        let f = try await AdminAPIFixture()
        let reconciler = RecordingReconciler()
        try await Self.withClient(f, reconciler) { client in
            for body in [#"{}"#, #"{"repair":"yes"}"#, #"{"repair":1}"#, #"{"repair":null}"#, #"{"repair":true,"scope":"global"}"#,
                         #"[true]"#, #"repair=true"#, #"{"repair":tru"#] {
                let response = try await client.send(.post, "/admin/v1/reconcile", json: body, as: client.bearer)
                #expect(response.code == 400, "\(body) → \(response.code) \(response.text)")
                #expect(response.errorCode == "invalid_request" && response.hasOpenAIErrorShape, "\(body) → \(response.text)")
            }
            let empty = try await client.send(.post, "/admin/v1/reconcile", as: client.bearer)
            #expect(empty.code == 400 && empty.errorMessage?.contains("repair is required") == true, "\(empty.text)")
        }
        #expect(reconciler.calls.value.isEmpty)
    }

    @Test func aGoodBodyRunsTheReconcilerAsTheCaller() async throws {
        let f = try await AdminAPIFixture()
        let reconciler = RecordingReconciler()
        try await Self.withClient(f, reconciler) { client in
            let response = try await client.send(.post, "/admin/v1/reconcile", json: #"{"repair":false}"#, as: client.bearer)
            #expect(response.code == 200, "\(response.text)")
            #expect(response.object["outcome"] as? String == "clean" && response.object["scopes_checked"] as? Int == 4, "\(response.text)")
        }
        #expect(reconciler.calls.value.map(\.repair) == [false])
        #expect(reconciler.calls.value.map(\.actor) == ["local-admin"])
    }
}
