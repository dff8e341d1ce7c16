import AirlockAdmission
import AirlockCore
import Logging
import ServiceLifecycle

/// `[reconcile] interval_seconds`: reconciliation on a timer inside `airlockd serve`, which holds
/// the counters while it runs (docs/OPERATIONS.md § Reconciliation). The first run comes one
/// interval after start: at start the counters were just opened, or rebuilt from the ledger.
struct ReconcileJob: Service {
    static let actor = "airlockd:reconcile"

    let reconciliation: Reconciliation
    let settings: ReconcileSettings
    let logger: Logger

    func run() async throws {
        guard settings.intervalSeconds > 0 else {
            // Off: a service that returns would stop the daemon, so wait for the shutdown.
            try await gracefulShutdown()
            return
        }
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(settings.intervalSeconds)) }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            do {
                log(try await reconciliation.reconcile(repair: settings.repair, actor: Self.actor))
            } catch {
                logger.error("reconciliation could not run", metadata: ["error": "\(error)"])
            }
        }
    }

    private func log(_ report: ReconciliationReport) {
        var metadata: Logger.Metadata = [
            "outcome": "\(report.outcome.rawValue)", "scopes": "\(report.scopesChecked)", "ledger_rows": "\(report.ledgerRows)",
            "drift": "\(report.counterDrift.count)", "licence_reports": "\(report.licenseReports.count)",
        ]
        if let first = report.unrepairable.first { metadata["problem"] = "\(first)" }
        let level: Logger.Level = switch report.outcome {
        case .clean: .info
        case .repaired: .warning
        case .drift, .failed: .error
        }
        logger.log(level: level, "reconciliation", metadata: metadata)
    }
}
