import AirlockCore
@testable import AirlockMetrics
import AirlockScheduler
import Foundation
import Metrics
import Testing

@Suite struct ExpositionTests {
    @Test func everyFamilyIsAValidPrometheusName() throws {
        let name = try Regex("^airlock_[a-z0-9_]+$")
        let label = try Regex("^[a-z_][a-z0-9_]*$")
        for family in MetricFamily.all {
            #expect(family.name.wholeMatch(of: name) != nil, "\(family.name)")
            #expect(family.name.hasSuffix("_total") == (family.kind == .counter), "\(family.name): only counters end in _total")
            #expect(!family.help.isEmpty && !family.help.contains("\n"))
            for labelName in family.labels {
                #expect(labelName.wholeMatch(of: label) != nil && !labelName.hasPrefix("__"), "\(family.name) \(labelName)")
            }
        }
        #expect(Set(MetricFamily.all.map(\.name)).count == MetricFamily.all.count)
    }

    /// Every family on the page is declared, typed as declared, labelled only as declared, and
    /// has its `# HELP` line (swift-metrics gives none; `promtool check metrics` wants one).
    @Test func aFullScrapeMatchesTheDeclaredFamilies() {
        let nodes = registry(serving: ["sim-small"], nodes: 2)
        nodes.heartbeat("node_1", engineReady: true, engine: (tokensPerSecond: 420, requests: 3))
        nodes.metrics("node_1", NodeMetrics(maxTemperatureCelsius: 71, oomEvents: 0, latencyP50Millis: 40,
                                            memoryUsedMiB: 2_048, memoryTotalMiB: 81_920))
        let exposition = MetricsExposition(
            labels: LabelGuard(servedModels: { nodes.placement.models }),
            readings: ScrapeReadings(nodes: nodes, ledger: { (rows: 30, commits: 4) },
                                     license: { LicenseReading(state: "active", remainingSeconds: 86_400 * 12) }))
        let factory = exposition.factory
        Counter(label: MetricFamily.requests.name, dimensions: [("model", "sim-small"), ("outcome", "served")], factory: factory).increment()
        Counter(label: MetricFamily.tokens.name, dimensions: [("model", "sim-small"), ("type", "prompt")], factory: factory).increment(by: 12)
        Counter(label: MetricFamily.ledgerAppendFailures.name, factory: factory).increment()
        Timer(label: MetricFamily.ledgerAppend.name, factory: factory).recordMilliseconds(3)

        let scraped = ScrapedText(exposition.render())
        #expect(scraped.typesWithoutHelp.isEmpty)
        let declared = Dictionary(uniqueKeysWithValues: MetricFamily.all.map { ($0.name, $0) })
        for (name, type) in scraped.types {
            #expect(declared[name]?.kind.rawValue == type, "\(name) is a \(type)")
            #expect(scraped.help[name] == declared[name]?.help)
        }
        for sample in scraped.samples {
            let family = MetricFamily.all.first { sample.name == $0.name || sample.name.hasPrefix($0.name + "_") }
            #expect(Set(sample.labels.keys).subtracting(["le"]).isSubset(of: family?.labels ?? []), "\(sample.name) \(sample.labels)")
        }
        let value = { (family: MetricFamily, labels: [String: String]) in
            scraped.family(family).first { $0.labels == labels }?.value
        }
        #expect(value(.nodeState, ["node": "node-1", "zone": "home", "state": "active"]) == 1)
        #expect(value(.nodeState, ["node": "node-2", "zone": "home", "state": "joining"]) == 1)
        #expect(value(.nodeTokensPerSecond, ["node": "node-1"]) == 420)
        #expect(value(.nodeGPUTemperature, ["node": "node-1"]) == 71)
        #expect(value(.nodeGPUMemoryTotal, ["node": "node-1"]) == Double(81_920 * 1_048_576))
        #expect(value(.nodeGPUTemperature, ["node": "node-2"]) == nil, "no metrics report yet: no reading, not a zero")
        #expect(value(.ledgerRows, [:]) == 30)
        #expect(value(.ledgerBatchRows, [:]) == 7.5)
        #expect(value(.licenseRemaining, [:]) == Double(86_400 * 12))
        #expect(value(.licenseState, ["state": "active"]) == 1)
        #expect(scraped.samples.contains { $0.name == MetricFamily.ledgerAppend.name + "_bucket" && $0.labels["le"] == "0.005" && $0.value == 1 })
    }

    @Test func aNodeThatLeavesTheRegistryLeavesTheScrape() {
        let nodes = registry(serving: ["sim-small"], nodes: 2)
        let exposition = MetricsExposition(
            labels: LabelGuard(servedModels: { [] }),
            readings: ScrapeReadings(nodes: nodes, ledger: { (0, 0) }, license: { nil }))
        #expect(ScrapedText(exposition.render()).family(.nodeState).count == 2)
        nodes.remove("node_2", reason: "revoked")
        let scraped = ScrapedText(exposition.render())
        #expect(scraped.family(.nodeState).map { $0.labels["node"] } == ["node-1"])
        #expect(scraped.family(.ledgerBatchRows).isEmpty, "no commits yet: no average")
        #expect(scraped.family(.licenseState).isEmpty)
    }
}
