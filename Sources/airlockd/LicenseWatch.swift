import AirlockAdmin
import AirlockCore
import AirlockLicensing
import Foundation
import Logging
import Synchronization

/// The licence as the running daemon sees it: judged at start and every few seconds (so an
/// `airlock license activate` from the CLI takes effect without a restart), at the later of the
/// clock and the newest recorded time (turning the clock back extends nothing), and turned into
/// the verdict the request path reads; what it allows goes to the node plane (pool counts to the
/// reconciler, prefix routing to the scheduler). State changes are logged.
final class LicenseWatch: Sendable {
    let state: LicenseState
    let nodes: NodePlane
    let logger: Logger
    let tolerance: Int64
    private let current = Mutex<(verdict: LicenseVerdict, status: LicenseStatus?)>((.allowed(warning: nil), nil))

    init(state: LicenseState, nodes: NodePlane, tolerance: Int, logger: Logger) {
        self.tolerance = Int64(tolerance)
        self.state = state
        self.nodes = nodes
        self.logger = logger
    }

    var verdict: LicenseVerdict { current.withLock { $0.verdict } }

    /// The last judgement, for `/admin/v1/license` and the dashboard (nil before the first).
    var status: LicenseStatus? { current.withLock { $0.status } }

    func refresh() async {
        let status: LicenseStatus
        do {
            status = try await nodes.admin.judgedLicenseStatus(state)
        } catch {
            logger.error("could not judge the licence; keeping the last judgement", metadata: ["error": "\(error)"])
            return
        }
        let allowed = status.entitlements
        nodes.reconciler.licence(maxNodes: allowed.maxNodes, maxGPUs: allowed.maxGPUs)
        nodes.scheduler.enablePrefixRouting(allowed.features.contains(.prefixRouting))
        let verdict = Self.verdict(status)
        let previous = current.withLock { held in
            defer { held = (verdict, status) }
            return held.status
        }
        guard previous?.state != status.state || previous?.licenseID != status.licenseID else { return }
        var metadata: Logger.Metadata = ["state": "\(status.state.rawValue)", "licence": "\(status.licenseID ?? "-")"]
        if let days = status.daysLeft { metadata["days_left"] = "\(days)" }
        if let problem = status.problem { metadata["problem"] = "\(problem)" }
        if let behind = status.clockBehindSeconds, behind > tolerance { metadata["clock_behind_s"] = "\(behind)" }
        logger.log(level: status.state == .expired ? .error : (status.state == .active ? .notice : .warning), "licence state", metadata: metadata)
    }

    static func verdict(_ status: LicenseStatus) -> LicenseVerdict {
        let day = status.expiresAt.map { Self.day($0) } ?? "?"
        switch status.state {
        case .active:
            return .allowed(warning: nil)
        case .grace:
            return .allowed(warning: "licence \(status.licenseID ?? "") expired on \(day); \(status.daysLeft ?? 0) days of grace left")
        case .expired:
            return .refused("The appliance's licence expired on \(day) and its grace period has ended. "
                            + "Inference is refused until a renewed licence is activated; ask the appliance's operators.")
        case .evaluation, .notYetValid:
            return .allowed(warning: "evaluation mode: no licence is active on this appliance")
        case .invalid:
            return .allowed(warning: "evaluation mode: the installed licence does not verify")
        }
    }

    private static func day(_ seconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

}
