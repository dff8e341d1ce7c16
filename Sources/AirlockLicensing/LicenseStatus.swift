import Foundation

/// Where the appliance stands at a moment, and what that allows.
public struct LicenseStatus: Sendable, Equatable, Encodable {
    public enum State: String, Sendable, Encodable {
        /// No licence installed: the evaluation entitlements.
        case evaluation
        /// Installed, but its start is still ahead: evaluation entitlements until then.
        case notYetValid = "not_yet_valid"
        case active
        /// Expired, inside the grace days: inference works, with a warning on every response.
        case grace
        /// Past the grace days: inference is refused; admin, exports and the ledger keep working.
        case expired
        /// Files present that do not verify for this appliance: treated as evaluation.
        case invalid
    }

    public var state: State
    public var entitlements: Entitlements
    public var licenseID: String?
    public var customer: String?
    public var expiresAt: Int64?
    public var graceEndsAt: Int64?
    /// Whole days until expiry (active), or until the end of grace (grace).
    public var daysLeft: Int?
    /// Why the licence is invalid, when it is.
    public var problem: String?
    /// Set when the clock is behind the latest time the appliance recorded: by how much. The
    /// status was judged at that later time instead.
    public var clockBehindSeconds: Int64?

    enum CodingKeys: String, CodingKey {
        case state, entitlements, licenseID = "license_id", customer, expiresAt = "expires_at", graceEndsAt = "grace_ends_at"
        case daysLeft = "days_left", problem, clockBehindSeconds = "clock_behind_seconds"
    }

    /// Inference is allowed in every state but `expired`.
    public var allowsInference: Bool { state != .expired }

    public static func evaluate(_ installed: Result<LicenseState.Installed?, Error>, now: Int64) -> LicenseStatus {
        let evaluation = LicenseStatus(state: .evaluation, entitlements: .evaluation)
        switch installed {
        case let .failure(error):
            var status = evaluation
            status.state = .invalid
            status.problem = "\(error)"
            return status
        case .success(nil):
            return evaluation
        case let .success(installed?):
            let terms = installed.terms
            var status = LicenseStatus(state: .active, entitlements: terms.entitlements, licenseID: terms.licenseID,
                                       customer: terms.customer, expiresAt: terms.expiresAt, graceEndsAt: terms.graceEndsAt)
            if now < terms.notBefore {
                status.state = .notYetValid
                status.entitlements = .evaluation
            } else if now < terms.expiresAt {
                status.daysLeft = Int((terms.expiresAt - now) / 86_400)
            } else if now < terms.graceEndsAt {
                status.state = .grace
                status.daysLeft = Int((terms.graceEndsAt - now) / 86_400)
            } else {
                status.state = .expired
                status.daysLeft = 0
            }
            return status
        }
    }
}
