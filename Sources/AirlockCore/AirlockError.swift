import Foundation

/// An error an operator or client can act on. Its description is the message shown to them, so
/// it names the thing and the reason and never contains a secret.
public enum AirlockError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// `kind` is "org", "env", "key", …; `reference` is what the caller gave (id or name).
    case notFound(kind: String, reference: String)
    case duplicate(kind: String, name: String, scope: String?)
    case invalidName(kind: String, name: String, reason: String)
    case invalidTransition(kind: String, id: String, from: TenantStatus, to: TenantStatus)
    case parentRevoked(kind: String, id: String)
    case invalidArgument(String)
    /// The data directory holds no Airlock database (and this command does not create one).
    case notInitialized(dataDirectory: String)
    case storage(String)

    public var description: String {
        switch self {
        case let .notFound(kind, reference):
            return "\(kind) '\(reference.clipped())' not found"
        case let .duplicate(kind, name, scope):
            return "\(kind) '\(name.clipped())' already exists" + (scope.map { " in \($0)" } ?? "")
        case let .invalidName(kind, name, reason):
            return "invalid \(kind) name '\(name.clipped())': \(reason)"
        case let .invalidTransition(kind, id, from, to):
            if from == .revoked { return "\(kind) \(id) is revoked; revocation cannot be undone" }
            if from == to { return "\(kind) \(id) is already \(to.rawValue)" }
            return "\(kind) \(id) cannot go from \(from.rawValue) to \(to.rawValue)"
        case let .parentRevoked(kind, id):
            return "\(kind) \(id) is revoked; nothing new can be created under it"
        case let .invalidArgument(message):
            return message
        case let .notInitialized(directory):
            return "no Airlock database in \(directory); run `airlockd init --data-dir \(directory)` first, or check --data-dir / $AIRLOCK_DATA_DIR"
        case let .storage(message):
            return "storage error: \(message)"
        }
    }

    public var errorDescription: String? { description }
}
