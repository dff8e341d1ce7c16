import AsyncHTTPClient
import NIOCore

/// The names the agent reads, per engine. Running and waiting requests are gauges read as they
/// are; throughput comes from a generated-token counter's rate where the engine has one — exact
/// over the agent's own interval, whatever the engine's logging window — and otherwise from the
/// engine's own tokens/s gauge; the median latency from an end-to-end latency histogram.
/// - vLLM: `vllm:num_requests_running`, `vllm:num_requests_waiting`, `vllm:generation_tokens_total`,
///   `vllm:e2e_request_latency_seconds` (one series per model_name, and engine in V1: summed).
/// - SGLang: `sglang:num_running_reqs`, `sglang:num_queue_reqs`, `sglang:generation_tokens_total`
///   (recent releases) else `sglang:gen_throughput`, `sglang:e2e_request_latency_seconds`.
/// - llama.cpp server (with `--metrics`; without, /metrics answers 501): `llamacpp:requests_processing`,
///   `llamacpp:requests_deferred`, `llamacpp:tokens_predicted_total` (`n_tokens_predicted_total` in
///   some write-ups, read too) else `llamacpp:predicted_tokens_seconds` — an average per request's
///   decoding, not the server's total, hence second choice; no latency histogram.
public struct EngineMetricNames: Sendable {
    public var engine: String
    var running: String
    var waiting: String
    var tokenCounters: [String]
    var throughputGauge: String?
    var latencyHistogram: String?

    public static let known = [
        EngineMetricNames(engine: "vllm", running: "vllm:num_requests_running", waiting: "vllm:num_requests_waiting",
                          tokenCounters: ["vllm:generation_tokens_total"], throughputGauge: nil,
                          latencyHistogram: "vllm:e2e_request_latency_seconds"),
        EngineMetricNames(engine: "sglang", running: "sglang:num_running_reqs", waiting: "sglang:num_queue_reqs",
                          tokenCounters: ["sglang:generation_tokens_total"], throughputGauge: "sglang:gen_throughput",
                          latencyHistogram: "sglang:e2e_request_latency_seconds"),
        EngineMetricNames(engine: "llamacpp", running: "llamacpp:requests_processing", waiting: "llamacpp:requests_deferred",
                          tokenCounters: ["llamacpp:tokens_predicted_total", "llamacpp:n_tokens_predicted_total"],
                          throughputGauge: "llamacpp:predicted_tokens_seconds", latencyHistogram: nil),
    ]

    /// Every sample name read, so that the parser stores nothing else.
    public static let read: Set<String> = Set(known.flatMap { names in
        [names.running, names.waiting] + names.tokenCounters + [names.throughputGauge, names.latencyHistogram.map { $0 + "_bucket" }].compactMap { $0 }
    })
}

/// What one read of an engine's /metrics says, in the same terms for every engine.
public struct EngineScrape: Sendable, Equatable {
    public var engine: String
    public var running: Double?
    public var waiting: Double?
    /// Since the engine started: a counter.
    public var generatedTokens: Double?
    public var throughputGauge: Double?
    public var latencySeconds: [HistogramBucket]?

    /// Nil when the text has none of the known engines' figures.
    public init?(_ text: PrometheusText) {
        for names in EngineMetricNames.known {
            running = text.sum(names.running)
            waiting = text.sum(names.waiting)
            generatedTokens = names.tokenCounters.lazy.compactMap(text.sum).first
            throughputGauge = names.throughputGauge.flatMap(text.sum)
            latencySeconds = names.latencyHistogram.flatMap(text.histogram)
            engine = names.engine
            if running != nil || waiting != nil || generatedTokens != nil || throughputGauge != nil || latencySeconds != nil { return }
        }
        return nil
    }

    public init?(parsing text: String) {
        self.init(PrometheusText(text, keeping: EngineMetricNames.read.contains))
    }
}

/// The figures a heartbeat or metrics report carries; nil where the engine did not say.
public struct EngineFigures: Sendable, Equatable {
    public var requestsInFlight: UInt32?
    public var queueDepth: UInt32?
    public var tokensPerSecond: Double?
    public var latencyP50Millis: Double?

    public var isEmpty: Bool { requestsInFlight == nil && queueDepth == nil && tokensPerSecond == nil && latencyP50Millis == nil }
}

/// Turns scrapes into figures over the interval between two of them: counters become rates and
/// histograms the latency of the requests that finished in between. One per reporting interval
/// (heartbeats, metrics reports), as each interval needs its own previous scrape.
public struct EngineMetricsSampler: Sendable {
    private var previous: (scrape: EngineScrape, at: ContinuousClock.Instant)?

    public init() {}

    /// `scrape` nil (engine down, no /metrics) gives no figures and keeps the previous scrape, so
    /// the next rate spans the gap — a restart in it shows as a counter decrease.
    public mutating func record(_ scrape: EngineScrape?, at now: ContinuousClock.Instant) -> EngineFigures {
        guard let scrape else { return EngineFigures() }
        let before = previous.flatMap { $0.scrape.engine == scrape.engine && $0.at < now ? $0 : nil }
        previous = (scrape, now)
        var figures = EngineFigures(requestsInFlight: Self.count(scrape.running), queueDepth: Self.count(scrape.waiting))
        if let tokens = scrape.generatedTokens {
            // A decrease is a restarted engine: its tokens since then are unknown, so say nothing.
            if let before, let earlier = before.scrape.generatedTokens, tokens >= earlier {
                let span = before.at.duration(to: now)
                figures.tokensPerSecond = Self.measure((tokens - earlier) / (span / .seconds(1)))
            }
        } else {
            figures.tokensPerSecond = Self.measure(scrape.throughputGauge)
        }
        if let buckets = scrape.latencySeconds, let earlier = before?.scrape.latencySeconds {
            figures.latencyP50Millis = Self.measure(Self.quantile(0.5, between: earlier, and: buckets).map { $0 * 1000 })
        }
        return figures
    }

    private static func count(_ value: Double?) -> UInt32? {
        guard let value, value.isFinite, value >= 0 else { return nil }
        return value >= Double(UInt32.max) ? .max : UInt32(value.rounded())
    }

    private static func measure(_ value: Double?) -> Double? {
        value.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
    }

    /// The `q` quantile of the observations made between two reads of a cumulative histogram;
    /// nil when none was made or the histogram restarted (a bucket went down or changed bounds).
    static func quantile(_ q: Double, between earlier: [HistogramBucket], and later: [HistogramBucket]) -> Double? {
        guard earlier.map(\.upperBound) == later.map(\.upperBound) else { return nil }
        let delta = zip(earlier, later).map { HistogramBucket(upperBound: $1.upperBound, count: $1.count - $0.count) }
        guard delta.allSatisfy({ $0.count >= 0 }) else { return nil }
        return quantile(q, delta)
    }

    /// Prometheus' `histogram_quantile`: linear within the bucket the rank falls in, from 0 for the
    /// first; the last finite bound when it falls in `+Inf`; nil without a `+Inf` bucket.
    static func quantile(_ q: Double, _ cumulative: [HistogramBucket]) -> Double? {
        guard cumulative.count >= 2, cumulative.last?.upperBound == .infinity else { return nil }
        var buckets = cumulative
        // Counts a scrape read mid-update may make non-monotonic; Prometheus evens them out too.
        for index in buckets.indices.dropFirst() { buckets[index].count = max(buckets[index].count, buckets[index - 1].count) }
        let total = buckets[buckets.count - 1].count
        guard total > 0, total.isFinite else { return nil }
        let rank = q * total
        let found = buckets.dropLast().firstIndex { $0.count >= rank } ?? buckets.count - 1
        if found == buckets.count - 1 { return buckets[found - 1].upperBound }
        if found == 0, buckets[0].upperBound <= 0 { return buckets[0].upperBound }
        let lower = found > 0 ? buckets[found - 1] : HistogramBucket(upperBound: 0, count: 0)
        let upper = buckets[found]
        return lower.upperBound + (upper.upperBound - lower.upperBound) * (rank - lower.count) / (upper.count - lower.count)
    }
}

public enum EngineMetrics {
    /// GETs `<engineURL>/metrics` within `timeout`, body included. Nil — never an error — for an
    /// engine that is down, slow, without the endpoint, or of another kind: heartbeats go on
    /// without figures.
    public static func scrape(_ client: HTTPClient, engineURL: String, timeout: Duration = .seconds(2)) async -> EngineScrape? {
        var request = HTTPClientRequest(url: engineURL + "/metrics")
        // Prometheus clients answer OpenMetrics when asked; the classic format is what this reads.
        request.headers.add(name: "Accept", value: "text/plain; version=0.0.4")
        let get = request
        let body = await withTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                guard let response = try? await client.execute(get, timeout: .init(timeout)) else { return nil }
                // Anything but 200 (404, llama.cpp's 501 without --metrics) is read only to free the connection.
                let limit = response.status == .ok ? PrometheusText.maxBytes : 64 * 1024
                let body = try? await response.body.collect(upTo: limit)
                return response.status == .ok ? body : nil
            }
            // The client's deadline covers the response head only; this covers a body that trickles.
            group.addTask { try? await Task.sleep(for: timeout); return nil }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
        guard let body else { return nil }
        return EngineScrape(PrometheusText(bytes: Array(body.readableBytesView), keeping: EngineMetricNames.read.contains))
    }
}
