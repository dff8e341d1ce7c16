import AirlockCore
import CoreMetrics
import Prometheus

/// The appliance's `/metrics`: the registry that swift-metrics records into (the daemon
/// bootstraps `MetricsSystem` with `factory` once), every label bounded by a `LabelGuard`, plus
/// the readings taken at scrape time, rendered in the Prometheus text format.
public final class MetricsExposition: Sendable {
    public let registry = PrometheusCollectorRegistry()
    public let factory: PrometheusMetricsFactory
    private let readings: ScrapeReadings?

    /// Ledger appends wait for a group commit's fsync: milliseconds normally, seconds on a
    /// struggling disk. The default buckets (5 ms – 10 s) would put every healthy append in one.
    static let ledgerAppendBuckets: [Duration] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 10_000].map { .milliseconds($0) }

    public init(labels: LabelGuard, readings: ScrapeReadings?) {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { labels.sanitize($0, $1) }
        factory.durationHistogramBuckets[MetricFamily.ledgerAppend.name] = Self.ledgerAppendBuckets
        self.factory = factory
        self.readings = readings
    }

    /// Makes this the process's swift-metrics backend; once per process (swift-metrics' rule).
    public func bootstrap() {
        MetricsSystem.bootstrap(factory)
    }

    /// The text Prometheus scrapes.
    public func render() -> String {
        var text = Self.addingHelp(to: registry.emitToString())
        if let readings { text += readings.registry().emitToString() }
        return text
    }

    /// swift-metrics carries no help text, so the families recorded through it come out of the
    /// registry with a `# TYPE` line only; `promtool check metrics` wants a `# HELP` too. It is
    /// added here from `MetricFamily`, the one list of what each metric means.
    static func addingHelp(to text: String) -> String {
        let help = Dictionary(uniqueKeysWithValues: MetricFamily.all.map { ($0.name, $0.help) })
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let words = line.split(separator: " ")
            if words.count == 4, words[0] == "#", words[1] == "TYPE", let text = help[String(words[2])] {
                lines.append("# HELP \(words[2]) \(text)")
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
