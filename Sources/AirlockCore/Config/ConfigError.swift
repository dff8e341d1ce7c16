/// A configuration problem found at start-up, naming the file, the dotted key and the reason, so
/// that an operator can fix `airlock.toml` without reading code.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    /// Dotted path such as `limits.key.tokens_per_minute`; empty for whole-file problems.
    public var key: String
    public var reason: String

    public init(file: String, key: String, reason: String) {
        self.file = file
        self.key = key
        self.reason = reason
    }

    public var description: String {
        key.isEmpty ? "\(file): \(reason)" : "\(file): \(key): \(reason)"
    }
}
