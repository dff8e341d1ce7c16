import AirlockCore
import Foundation

/// Usage over time as a stacked bar chart in plain SVG: server-rendered, readable without
/// JavaScript, every bar titled with its numbers (a browser shows the title on hover and a
/// screen reader reads it). The top groups get their own colour; the rest are summed as "other".
enum UsageChart {
    enum Metric: String {
        case requests
        case tokens
    }

    static let palette = ["#0b5fff", "#12b76a", "#f79009", "#7a5af8", "#ee46bc", "#06aed4", "#667085", "#98a2b3"]
    static let maxSeries = 7

    static func svg(_ points: [UsagePoint], from: UnixMillis, to: UnixMillis, bucketSeconds: Int64, metric: Metric) -> String {
        let bucketMillis = bucketSeconds * 1000
        let firstBucket = (from.value / bucketMillis) * bucketMillis
        let buckets = Int(max(1, (to.value - firstBucket + bucketMillis - 1) / bucketMillis))
        let value: (UsagePoint) -> Int64 = metric == .requests ? { Int64($0.requests) } : { $0.totalTokens }
        let series = seriesNames(points, value: value)
        var stacks = Array(repeating: [(String, Int64)](), count: buckets)
        for point in points {
            let index = Int((point.bucketStart.value - firstBucket) / bucketMillis)
            guard stacks.indices.contains(index) else { continue }
            let name = series.contains(point.label) ? point.label : "other"
            if let existing = stacks[index].firstIndex(where: { $0.0 == name }) { stacks[index][existing].1 += value(point) }
            else { stacks[index].append((name, value(point))) }
        }
        let peak = max(1, stacks.map { $0.reduce(0) { $0 + $1.1 } }.max() ?? 1)
        let (width, height, left, bottom) = (900.0, 300.0, 60.0, 24.0)
        let plotHeight = height - bottom - 10
        let barWidth = (width - left - 10) / Double(buckets)
        var shapes: [String] = []
        for tick in 0...4 {
            let y = 10 + plotHeight * (1 - Double(tick) / 4)
            let amount = Double(peak) * Double(tick) / 4
            let label = peak < 8 ? String(format: amount == amount.rounded() ? "%.0f" : "%.2f", amount) : Self.short(Int64(amount))
            shapes.append("<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(width - 10)\" y2=\"\(y)\" stroke=\"#e4e7ec\"/>"
                          + "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\" font-size=\"11\" fill=\"#5b6478\">\(label)</text>")
        }
        for (index, stack) in stacks.enumerated() {
            var base = 10 + plotHeight
            let x = left + Double(index) * barWidth + 1
            let start = UnixMillis(firstBucket + Int64(index) * bucketMillis)
            for (name, amount) in stack.sorted(by: { order($0.0, series) < order($1.0, series) }) where amount > 0 {
                let h = plotHeight * Double(amount) / Double(peak)
                base -= h
                let colour = palette[min(order(name, series), palette.count - 1)]
                shapes.append("""
                    <rect x="\(fmt(x))" y="\(fmt(base))" width="\(fmt(max(barWidth - 2, 1)))" height="\(fmt(h))" fill="\(colour)">\
                    <title>\(HTML.text("\(start) \(name): \(amount) \(metric.rawValue)"))</title></rect>
                    """)
            }
        }
        let labelEvery = max(1, buckets / 8)
        for index in stride(from: 0, to: buckets, by: labelEvery) {
            let start = UnixMillis(firstBucket + Int64(index) * bucketMillis)
            // `MM-DD` for day buckets, `HH:MM` otherwise, cut from the ISO 8601 form.
            let text = String(start.description.dropFirst(bucketSeconds >= 86_400 ? 5 : 11).prefix(5))
            shapes.append("<text x=\"\(fmt(left + Double(index) * barWidth))\" y=\"\(height - 6)\" font-size=\"11\" fill=\"#5b6478\">\(HTML.text(text))</text>")
        }
        let legend = (series + (stacks.contains { $0.contains { $0.0 == "other" } } ? ["other"] : [])).map { name in
            "<span><svg viewBox=\"0 0 10 10\" aria-hidden=\"true\"><rect width=\"10\" height=\"10\" fill=\"\(palette[min(order(name, series), palette.count - 1)])\"/></svg>\(HTML.text(name))</span>"
        }.joined()
        return """
            <div class="legend">\(legend)</div>
            <svg id="usage-chart" role="img" aria-label="\(metric.rawValue) per bucket" viewBox="0 0 \(Int(width)) \(Int(height))" xmlns="http://www.w3.org/2000/svg">
            \(shapes.joined(separator: "\n"))
            </svg>
            """
    }

    /// The groups with the largest totals, largest first.
    private static func seriesNames(_ points: [UsagePoint], value: (UsagePoint) -> Int64) -> [String] {
        var totals: [String: Int64] = [:]
        for point in points { totals[point.label, default: 0] += value(point) }
        return totals.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(maxSeries).map(\.key)
    }

    private static func order(_ name: String, _ series: [String]) -> Int { series.firstIndex(of: name) ?? maxSeries }

    private static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

    static func short(_ value: Int64) -> String {
        switch value {
        case 1_000_000...: return String(format: "%.1fM", Double(value) / 1_000_000)
        case 10_000...: return "\(value / 1000)k"
        default: return "\(value)"
        }
    }
}
