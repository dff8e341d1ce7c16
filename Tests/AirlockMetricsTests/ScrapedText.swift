import AirlockCore
import AirlockMetrics
import AirlockScheduler

/// A rendered `/metrics` page read back the way Prometheus reads it: samples with their labels,
/// and the `# HELP` / `# TYPE` lines. Enough of the text format for what Airlock writes.
struct ScrapedText {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var samples: [Sample] = []
    var help: [String: String] = [:]
    var types: [String: String] = [:]
    /// `# TYPE` lines with no `# HELP` line for the same name right before them.
    var typesWithoutHelp: [String] = []

    init(_ text: String) {
        var previous = ""
        for line in text.split(separator: "\n").map(String.init) {
            defer { previous = line }
            let words = line.split(separator: " ", maxSplits: 3).map(String.init)
            if words.first == "#" {
                if words[1] == "HELP" { help[words[2]] = words.count > 3 ? words[3] : "" }
                if words[1] == "TYPE" {
                    types[words[2]] = words[3]
                    if !previous.hasPrefix("# HELP \(words[2]) ") { typesWithoutHelp.append(words[2]) }
                }
                continue
            }
            samples.append(Self.sample(line))
        }
    }

    private static func sample(_ line: String) -> Sample {
        guard let brace = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") else {
            let parts = line.split(separator: " ")
            return Sample(name: String(parts[0]), labels: [:], value: Double(parts[1]) ?? .nan)
        }
        var labels: [String: String] = [:]
        var rest = line[line.index(after: brace)..<close]
        while let equals = rest.firstIndex(of: "=") {
            let name = String(rest[..<equals])
            var value = ""
            var index = rest.index(equals, offsetBy: 2)  // past ="
            while rest[index] != "\"" {
                if rest[index] == "\\" { index = rest.index(after: index) }
                value.append(rest[index])
                index = rest.index(after: index)
            }
            labels[name] = value
            rest = rest[rest.index(after: index)...].drop { $0 == "," }
        }
        let value = line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)
        return Sample(name: String(line[..<brace]), labels: labels, value: Double(value) ?? .nan)
    }

    /// The samples of one family (histograms: its `_bucket`, `_sum` and `_count` series too).
    func family(_ family: MetricFamily) -> [Sample] {
        samples.filter { $0.name == family.name || (family.kind == .histogram && $0.name.hasPrefix(family.name + "_")) }
    }
}

/// A registry with nodes serving `models`, named `node-1`, `node-2`, …
func registry(serving models: [String], nodes: Int = 1) -> NodeRegistry {
    let registry = NodeRegistry(clock: { UnixMillis.now().value })
    for index in 1...nodes {
        registry.register(NodeProfile(id: "node_\(index)", name: "node-\(index)", orgID: nil, zone: "home",
                                      engineURL: "http://127.0.0.1:1", models: models, capacityTokensPerSecond: 1_000),
                          operatorDraining: false)
    }
    return registry
}
