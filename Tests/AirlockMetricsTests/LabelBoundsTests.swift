import AirlockCore
@testable import AirlockMetrics
import Metrics
import Testing

/// A scrape must never grow with what clients send: models nobody serves, key ids, request ids.
@Suite struct LabelBoundsTests {
    let nodes = registry(serving: ["sim-small"])
    var exposition: MetricsExposition {
        MetricsExposition(labels: LabelGuard(servedModels: { [nodes] in nodes.placement.models }), readings: nil)
    }

    @Test func bogusModelsAndIdentifiersDoNotMintSeries() {
        let exposition = exposition
        let factory = exposition.factory
        for index in 0..<5_000 {
            Counter(label: MetricFamily.requests.name, dimensions: [("model", "bogus-\(index)"), ("outcome", "refused")],
                    factory: factory).increment()
            Counter(label: MetricFamily.requests.name, dimensions: [("model", "sim-small"), ("outcome", "served")],
                    factory: factory).increment()
            // As if a slip put identifiers into labels: a key id, a request id, an API key.
            Counter(label: MetricFamily.admissionRefusals.name, dimensions: [
                ("layer", "key_\(String(index, radix: 16))"), ("reason", "req_\(index)"),
            ], factory: factory).increment()
            Counter(label: MetricFamily.failovers.name, dimensions: [("model", "sim-small"), ("node", "alk_\(index)secret")],
                    factory: factory).increment()
        }
        let scraped = ScrapedText(exposition.render())
        let requests = scraped.family(.requests)
        #expect(Set(requests.map { $0.labels["model"] ?? "" }) == ["sim-small", "other"])
        #expect(requests.count == 2)
        #expect(requests.first { $0.labels["model"] == "other" }?.value == 5_000)
        #expect(scraped.family(.admissionRefusals).count == 1)
        #expect(scraped.family(.failovers).map(\.labels) == [["model": "sim-small", "node": "other"]])
        for sample in scraped.samples {
            for value in sample.labels.values {
                #expect(!LabelGuard.identifierPrefixes.contains(where: value.hasPrefix), "\(sample.name) carries \(value)")
            }
        }
    }

    @Test func anyOneLabelTakesAtMostMaxValues() {
        let exposition = exposition
        for index in 0..<(LabelGuard.maxValues * 4) {
            Counter(label: MetricFamily.schedulerDecisions.name, dimensions: [("model", "sim-small"), ("decision", "d\(index)")],
                    factory: exposition.factory).increment()
        }
        let series = ScrapedText(exposition.render()).family(.schedulerDecisions)
        #expect(series.count == LabelGuard.maxValues + 1)
        #expect(series.first { $0.labels["decision"] == "other" }?.value == Double(LabelGuard.maxValues * 3))
    }

    @Test func aModelCountsOnlyWhileSomeNodeServesIt() {
        let guarded = LabelGuard(servedModels: { ["sim-small"] })
        #expect(guarded.bounded("sim-small", label: "model", metric: "m") == "sim-small")
        #expect(guarded.bounded("sim-large", label: "model", metric: "m") == "other")
        #expect(guarded.bounded("node-1", label: "node", metric: "m") == "node-1")
        #expect(guarded.bounded("org_0123456789abcdef", label: "node", metric: "m") == "other")
    }
}
