/// What the licence says about serving inference right now, as the request path needs it: the
/// gateway does not read licences, the daemon hands it this (refreshed every few seconds).
public enum LicenseVerdict: Sendable, Equatable {
    /// Serve; with a warning for every response when set (grace period, evaluation mode).
    case allowed(warning: String?)
    /// Refuse inference with this message (licence expired past its grace).
    case refused(String)
}

extension LicenseVerdict {
    public var warning: String? {
        if case let .allowed(warning) = self { warning } else { nil }
    }
}
