import AirlockCore
import Synchronization

/// Keeps every label value on `/metrics` bounded, whatever the code recording it passes. The
/// gateway already labels only served models, enum cases and node names; this is the second
/// line, so that a slip there cannot let clients mint time series (each one costs the appliance
/// and Prometheus memory for good) or put an identifier into a scrape:
///
/// - `model` must be a model some registered node serves (the catalog checks agents' models);
///   anything else becomes `other`.
/// - A value shaped like an API key, key, org, environment or request id becomes `other`.
/// - Any one label of one metric takes at most `maxValues` distinct values; later ones become
///   `other`.
public final class LabelGuard: Sendable {
    public static let maxValues = 256
    /// What identifiers and secrets start with (`APIKeyFormat.prefix`, typed ids, request ids).
    static let identifierPrefixes = ["alk_", "key_", "org_", "env_", "req_"]

    private let servedModels: @Sendable () -> [String]
    /// "metric label" → the values it has taken.
    private let seen = Mutex<[String: Set<String>]>([:])

    public init(servedModels: @escaping @Sendable () -> [String]) {
        self.servedModels = servedModels
    }

    /// The Prometheus factory's `nameAndLabelSanitizer`.
    public func sanitize(_ name: String, _ labels: [(String, String)]) -> (String, [(String, String)]) {
        (name, labels.map { label, value in (label, bounded(value, label: label, metric: name)) })
    }

    func bounded(_ value: String, label: String, metric: String) -> String {
        let other = MetricFamily.otherValue
        if label == "model" { return servedModels().contains(value) ? value : other }
        if Self.identifierPrefixes.contains(where: value.hasPrefix) { return other }
        return seen.withLock { seen in
            let key = metric + " " + label
            if seen[key]?.contains(value) == true { return value }
            guard seen[key, default: []].count < Self.maxValues else { return other }
            seen[key, default: []].insert(value)
            return value
        }
    }
}
