import AirlockCore
import AirlockScheduler
import Prometheus

/// What `/metrics` reads when Prometheus asks rather than as things happen: each node's live
/// state and last reports, the ledger's commit counts, the licence. Written into a registry made
/// for one scrape, so a node that leaves the registry leaves `/metrics` with it, and a state
/// gauge carries only the current state (Prometheus marks the previous series stale at once).
public struct ScrapeReadings: Sendable {
    public var nodes: NodeRegistry
    /// `LedgerAppender.committedRows` and `committedBatches`.
    public var ledger: @Sendable () -> (rows: Int, commits: Int)
    /// Nil before the licence was first judged.
    public var license: @Sendable () -> LicenseReading?

    public init(nodes: NodeRegistry, ledger: @escaping @Sendable () -> (rows: Int, commits: Int),
                license: @escaping @Sendable () -> LicenseReading?) {
        self.nodes = nodes
        self.ledger = ledger
        self.license = license
    }

    /// A fresh registry holding this moment's readings.
    func registry() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        for node in nodes.nodes {
            record(node, into: registry)
        }
        let ledger = ledger()
        registry.counter(.ledgerRows).increment(by: Int64(ledger.rows))
        registry.counter(.ledgerCommits).increment(by: Int64(ledger.commits))
        if ledger.commits > 0 { registry.gauge(.ledgerBatchRows).set(to: Double(ledger.rows) / Double(ledger.commits)) }
        if let license = license() {
            registry.gauge(.licenseState, ["state": license.state]).set(to: 1)
            if let remaining = license.remainingSeconds { registry.gauge(.licenseRemaining).set(to: Double(max(0, remaining))) }
        }
        return registry
    }

    private func record(_ node: LiveNode, into registry: PrometheusCollectorRegistry) {
        let status = nodes.status(of: node)
        let name = ["node": status.name]
        registry.gauge(.nodeState, ["node": status.name, "zone": status.zone, "state": "\(status.state)"]).set(to: 1)
        registry.gauge(.nodeInFlight, name).set(to: Double(status.requestsInFlight))
        registry.gauge(.nodeTokensPerSecond, name).set(to: node.engineTokensPerSecond)
        guard let metrics = status.metrics else { return }
        if let celsius = metrics.maxTemperatureCelsius { registry.gauge(.nodeGPUTemperature, name).set(to: celsius) }
        if let percent = metrics.utilisationPercent { registry.gauge(.nodeGPUUtilisation, name).set(to: percent / 100) }
        let mebibyte = 1_048_576.0
        if let used = metrics.memoryUsedMiB { registry.gauge(.nodeGPUMemoryUsed, name).set(to: Double(used) * mebibyte) }
        if let total = metrics.memoryTotalMiB { registry.gauge(.nodeGPUMemoryTotal, name).set(to: Double(total) * mebibyte) }
    }
}

/// The licence as `/metrics` shows it: the daemon turns its `LicenseStatus` into this.
public struct LicenseReading: Sendable, Equatable {
    /// `LicenseStatus.State`'s raw value.
    public var state: String
    /// Until inference stops (expiry, or the end of grace); nil without a licence.
    public var remainingSeconds: Int64?

    public init(state: String, remainingSeconds: Int64?) {
        self.state = state
        self.remainingSeconds = remainingSeconds
    }
}

extension PrometheusCollectorRegistry {
    /// Labels in the order the family declares them, whatever order the caller wrote them in.
    fileprivate func gauge(_ family: MetricFamily, _ labels: [String: String] = [:]) -> Gauge {
        makeGauge(descriptor: family.descriptor, labels: family.labels.compactMap { name in labels[name].map { (name, $0) } })
    }

    fileprivate func counter(_ family: MetricFamily) -> Counter {
        makeCounter(descriptor: family.descriptor)
    }
}

extension MetricFamily {
    fileprivate var descriptor: MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
