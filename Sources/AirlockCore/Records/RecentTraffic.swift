/// How the API's requests ended over the last few minutes: what the dashboard's overview shows
/// as request rate and error rate. Counted in memory by the gateway; the ledger stays the
/// record of what was served.
public struct RecentTraffic: Sendable, Equatable {
    public var seconds: Int
    public var served: Int
    public var refused: Int
    /// Engine failures, interrupted streams and Airlock's own errors.
    public var failed: Int

    public init(seconds: Int, served: Int, refused: Int, failed: Int) {
        self.seconds = seconds
        self.served = served
        self.refused = refused
        self.failed = failed
    }

    public var total: Int { served + refused + failed }
    public var requestsPerSecond: Double { Double(total) / Double(max(seconds, 1)) }
    /// Failures as a share of all requests (refusals are the system working, not errors).
    public var errorRate: Double { total == 0 ? 0 : Double(failed) / Double(total) }
}
