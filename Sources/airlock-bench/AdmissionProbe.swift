import AirlockAdmission
import AirlockCore
import AirlockCounters
import AirlockStore
import ArgumentParser

/// Opens the counters as the daemon will (rebuilding from the ledger when needed), tries a
/// number of admissions for one key under a requests/minute limit, and reports. The restart and
/// rebuild tests (AirlockCLITests) run it as a separate process, twice or more.
struct AdmissionProbe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admission-probe", abstract: "Admit N requests for one key (for the restart tests).", shouldDisplay: false)

    @Option var dataDir: String
    @Option var attempts = 1
    @Option var requestsPerMinute = 10
    @Flag(help: "Exit without marking a clean shutdown, like a crash.") var noClose = false

    func run() async throws {
        let store = try Store(dataDirectory: dataDir)
        let (counters, report) = try await CounterRecovery.open(dataDirectory: dataDir, store: store)
        let limits = EffectiveLimits(global: LimitSet(), org: LimitSet(), env: LimitSet(),
                                     key: LimitSet(requestsPerMinute: requestsPerMinute), maxTokensPerRequest: 4_096,
                                     maxRequestBytes: 1 << 20)
        let admission = Admission(counters: counters, limits: { _ in limits })
        var admitted = 0
        for _ in 0..<attempts {
            let request = AdmissionRequest(
                orgID: OrgID(unchecked: "org_00000000000000a1"), envID: EnvID(unchecked: "env_00000000000000b2"),
                keyID: KeyID(unchecked: "key_00000000000000c3"), model: "llama-3-8b", promptTokens: 10, maxTokens: 0, bodyBytes: 10)
            if case .admitted = try admission.admit(request) { admitted += 1 }
        }
        if !noClose { try counters.close() }
        print("rebuilt=\(report.rebuilt) replayed=\(report.rowsReplayed) moved_aside=\(report.movedAside != nil) admitted=\(admitted)")
    }
}
