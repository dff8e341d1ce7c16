/// `/metrics` on the API port: `[metrics]` in airlock.toml (docs/OPERATIONS.md § Metrics and logs).
/// Prometheus authenticates with a bearer token read from a file, so the token never sits in
/// airlock.toml (which is group-readable) and can be replaced without a config change.
public struct MetricsSettings: Equatable, Sendable {
    /// Serve `GET /metrics`; false answers 404 there, as if the route did not exist.
    public var enabled = true
    /// A file holding the scrape token (one line, at least 32 characters). Nil: the daemon's own
    /// token in `<data_dir>/secrets/metrics.token`, made at first start.
    public var scrapeTokenFile: String?

    public init() {}

    mutating func read(_ section: inout TOMLSection) throws {
        enabled = try section.bool("enabled") ?? enabled
        if let file = try section.string("scrape_token_file") {
            guard file.hasPrefix("/") else { throw section.error("scrape_token_file", "must be an absolute path, got '\(file)'") }
            scrapeTokenFile = file
        }
        try section.finish()
    }
}
