import AirlockCore
import GRDB

extension TenancyReader {
    /// The FinOps view of [from, to): ledger rows by node and model (the ledger's `ts` index;
    /// `usage_daily` has no node), node hours from the node rows, priced piecewise by the price
    /// versions in force.
    public func finOpsReport(from: UnixMillis, to: UnixMillis) throws -> FinOpsReport {
        precondition(from < to)
        let served = try Row.fetchAll(db, sql: """
            SELECT node, model, count(*) AS requests, sum(total_tokens) AS tokens, sum(latency_ms) AS busy, sum(cost_micros) AS charged
            FROM usage_ledger WHERE ts >= ? AND ts < ? GROUP BY node, model
            """, arguments: [from.value, to.value])
        let enrolled = try Row.fetchAll(db, sql: "SELECT name, status, created_at FROM nodes")
        let book = try priceBook()
        let seconds = Double(to.value - from.value) / 1000
        var nodeNames = Set(served.map { $0["node"] as String })
        var start: [String: Int64] = [:]
        for row in enrolled {
            let name: String = row["name"]
            let created: Int64 = row["created_at"]
            guard created < to.value else { continue }
            start[name] = max(created, from.value)
            if (row["status"] as String) != "revoked" { nodeNames.insert(name) }
        }
        var perNode: [String: (requests: Int64, tokens: Int64, busy: Int64)] = [:]
        for row in served {
            let sums = perNode[row["node"], default: (0, 0, 0)]
            perNode[row["node"]] = (sums.requests + row["requests"], sums.tokens + row["tokens"], sums.busy + row["busy"])
        }
        let nodes = nodeNames.sorted().map { name -> FinOpsReport.NodeLine in
            let sums = perNode[name] ?? (0, 0, 0)
            let begin = start[name] ?? from.value
            return .init(node: name, heldMillis: to.value - begin, costMicros: Self.nodeCost(name, from: begin, to: to.value, book: book),
                         requests: sums.requests, tokens: sums.tokens, tokensPerSecond: Double(sums.tokens) / seconds,
                         averageInFlight: Double(sums.busy) / 1000 / seconds)
        }
        // Each node's cost shared among the models it served, by tokens.
        let nodeCost = Dictionary(nodes.map { ($0.node, $0.costMicros) }, uniquingKeysWith: +)
        var modelCost: [String: Int128] = [:], modelTokens: [String: Int64] = [:], charged: [String: Int64] = [:]
        for row in served {
            let (node, model, tokens): (String, String, Int64) = (row["node"], row["model"], row["tokens"])
            if let total = perNode[node]?.tokens, total > 0 {
                modelCost[model, default: 0] += Int128(nodeCost[node] ?? 0) * Int128(tokens) * 1_000 / Int128(total)
            }
            modelTokens[model, default: 0] += tokens
            charged[model, default: 0] += row["charged"] as Int64
        }
        let models = modelTokens.keys.sorted().map { model in
            FinOpsReport.ModelLine(model: model, tokens: modelTokens[model] ?? 0, costMicros: Int64(((modelCost[model] ?? 0) + 500) / 1_000),
                                   chargedMicros: charged[model] ?? 0)
        }
        return FinOpsReport(from: from, to: to, currency: book.versions.last?.table.currency, nodes: nodes, models: models)
    }

    /// One node's running cost over [from, to), cut where a price version starts.
    private static func nodeCost(_ node: String, from: Int64, to: Int64, book: PriceBook) -> Int64 {
        guard from < to else { return 0 }
        let cuts = ([from] + book.versions.map(\.effectiveFrom.value).filter { $0 > from && $0 < to }).sorted()
        var numerator: Int128 = 0
        for (index, start) in cuts.enumerated() {
            let end = index + 1 < cuts.count ? cuts[index + 1] : to
            let rate = book.version(at: UnixMillis(start))?.table.hourCost(of: node) ?? 0
            numerator += Int128(rate) * Int128(end - start)
        }
        return Int64((numerator + 1_800_000) / 3_600_000)
    }
}
