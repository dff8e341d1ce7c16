/// How a request ended. Every request gets exactly one: the gateway records it once, where the
/// response (or, for streams, the last byte) is decided.
public enum RequestOutcome: String, Sendable, CaseIterable {
    /// The engine answered and a ledger row was written.
    case served
    /// Refused before reaching an engine: bad key, bad body, unknown model, limit or quota.
    case refused
    /// An engine failed before answering (502/503); nothing billed.
    case engineFailed = "engine_failed"
    /// A stream that the engine broke off or the client left; billed for what was generated.
    case interrupted
    /// Airlock itself failed (500); nothing billed.
    case internalError = "internal_error"
}
