import AirlockAdmission
import AirlockCore
import AirlockCounters
import AirlockStore
import ArgumentParser

/// `airlock reconcile`: the counters against the ledger, the chains, the issued licence reports
/// (docs/OPERATIONS.md § Reconciliation). The counters belong to the daemon while it runs, so the
/// run happens there when it answers on its socket; with the daemon stopped, here, on the data
/// directory — refused if some process still holds the counters.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compare the admission counters with the ledger, verify the chains and recheck the licence reports.",
        discussion: """
            Drifted counters are rebuilt from the ledger unless --no-repair is given; the ledger is never changed.
            A broken chain or a licence report that disagrees with the ledger is reported, never repaired.
            Exit status: 0 clean or repaired; 1 the run failed; 2 counters drifted and were not repaired;
            3 a chain is broken or a licence report disagrees.
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(name: .customLong("no-repair"), help: "Report only: leave drifted counters as they are.") var noRepair = false

    func run() async throws {
        var report: ReconciliationReport?
        try await runReportingErrors { report = try await reconcile() }
        guard let report else { return }
        if global.json { Output.json(report) } else { Self.print(report) }
        switch report.outcome {
        case .clean, .repaired: return
        case .drift: throw ExitCode(2)
        case .failed: throw ExitCode(3)
        }
    }

    private func reconcile() async throws -> ReconciliationReport {
        let config = try global.configuration()
        if let daemon = await DaemonAdmin.connect(dataDirectory: config.dataDir, actor: global.actor) {
            return try await daemon.call(.POST, "/admin/v1/reconcile", ["repair": !noRepair], timeout: .seconds(600))
        }
        let store = try Store(dataDirectory: config.dataDir, create: false)
        let counters: CounterStore
        do {
            counters = try CounterStore(dataDirectory: config.dataDir, exclusive: true)
        } catch is CountersInUse {
            throw AirlockError.invalidArgument(
                "another process (airlockd?) holds the counters in \(config.dataDir) but no daemon answers on its admin socket; try again once it answers, or stop it")
        }
        let report = try await Reconciliation(store: store, counters: counters, mode: .stopped)
            .reconcile(repair: !noRepair, actor: global.actor.name)
        // Counters the stopped daemon left untrusted stay so unless rebuilt here: its next
        // start rebuilds them.
        if !counters.needsRebuild || report.countersRepaired { try counters.close() }
        return report
    }

    static func print(_ report: ReconciliationReport) {
        let drift = report.counterDrift
        Swift.print("counters: \(report.scopesChecked) scopes, \(report.ledgerRows) ledger rows in the last day: "
            + (drift.isEmpty ? "agree with the ledger" : "\(drift.count) differ" + (report.countersRepaired ? ", rebuilt from the ledger" : ", not repaired")))
        for line in drift {
            Swift.print("  \(line.scope) \(line.metric.rawValue): counter \(line.counter), ledger \(line.ledger) (\(line.direction.rawValue))")
        }
        for chain in report.chains {
            Swift.print("\(chain.chain): " + (chain.intact ? "intact, \(chain.rowsChecked) rows"
                : "BROKEN at seq \(chain.breakSeq ?? 0): \(chain.detail ?? "")"))
        }
        let mismatched = report.licenseReports.filter { !$0.matches }
        Swift.print("licence reports: \(report.licenseReports.count) checked, " + (mismatched.isEmpty ? "all match" : "\(mismatched.count) DISAGREE"))
        for check in mismatched {
            Swift.print("  \(check.period ?? "?") (audit seq \(check.auditSeq)): \(check.differences.joined(separator: "; "))")
        }
        Swift.print("usage summaries (last 31 days): " + (report.summaryDays.isEmpty ? "match the ledger"
            : "\(report.summaryDays.count) day(s) differed (\(report.summaryDays.prefix(5).joined(separator: ", ")))"
              + (report.summariesRepaired ? ", rewritten from the ledger" : ", not repaired")))
        if !report.unrepairable.isEmpty { Swift.print("not repairable automatically: see docs/OPERATIONS.md § Reconciliation") }
        Swift.print("outcome: \(report.outcome.rawValue)")
    }
}
