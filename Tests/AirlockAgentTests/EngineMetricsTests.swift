@testable import AirlockAgent
import AirlockTestSupport
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// Engines' /metrics as they print it (and as hostile peers might), from Fixtures/.
@Suite struct EngineMetricsParsingTests {
    @Test func vLLMWithHelpTypeAndTwoModelsIsRead() throws {
        let text = PrometheusText(try Fixture.text("vllm-two-models-1.prom"))
        #expect(text.malformedLines == 0)
        #expect(!text.truncated)
        #expect(text.samples.count == 114 - 2 * 10) // every line but the HELP and TYPE pairs of 10 families
        let running = text.samples.filter { $0.name == "vllm:num_requests_running" }
        #expect(running.map(\.labels) == [
            ["engine": "0", "model_name": "meta-llama/Llama-3.1-8B-Instruct"],
            ["engine": "0", "model_name": "Qwen/Qwen2.5-7B-Instruct"],
        ])
        #expect(text.samples.first { $0.name == "process_resident_memory_bytes" }?.value == 2.18734592e9)
    }

    @Test func seriesAreSummedAcrossLabelSets() throws {
        let text = PrometheusText(try Fixture.text("vllm-two-models-1.prom"))
        #expect(text.sum("vllm:num_requests_running") == 4)
        #expect(text.sum("vllm:generation_tokens_total") == 1_500_000)
        #expect(text.sum("vllm:request_success_total") == Double(650 + 52 + 330 + 21))
        #expect(text.sum("vllm:no_such_metric") == nil)
        let buckets = try #require(text.histogram("vllm:e2e_request_latency_seconds"))
        #expect(buckets.count == 22)
        #expect(buckets.first == HistogramBucket(upperBound: 0.3, count: 15))
        #expect(buckets.last == HistogramBucket(upperBound: .infinity, count: 702 + 351))
        #expect(buckets.map(\.upperBound) == buckets.map(\.upperBound).sorted())
    }

    @Test func nanIsNoFigureInASum() {
        let text = PrometheusText("g{a=\"1\"} NaN\ng{a=\"2\"} 2.5e0\nh NaN\n")
        #expect(text.sum("g") == 2.5)
        #expect(text.sum("h") == nil)
    }

    @Test func labelValuesWithBracesQuotesCommasAndSpaces() throws {
        let text = PrometheusText(try Fixture.text("hostile-labels.prom"))
        #expect(text.malformedLines == 0)
        let names = text.samples.filter { $0.name == "vllm:num_requests_running" }.map { $0.labels["model_name"] }
        #expect(names == ["a}b", "with \"escaped\" quotes", "commas, spaces and } braces { too", "back\\slash\\", "spaced",
                          "ünïcödé 模型 🚀", nil, nil, "unknown \\t escape"])
        #expect(text.samples.first { $0.labels["model_name"] == "back\\slash\\" }?.labels["note"] == "new\nline")
        #expect(text.sum("vllm:num_requests_running") == 511)
        #expect(text.samples.first { $0.labels["model_name"] == "x\"} 5" }?.value == 3)
        #expect(text.sum("vllm:num_requests_waiting") == 7)
    }

    @Test func malformedLinesAreSkippedAndCounted() throws {
        let bytes = [UInt8](try Data(contentsOf: Fixture.url("hostile-garbage.prom")))
        let text = PrometheusText(bytes: bytes)
        #expect(text.malformedLines == 18)
        #expect(text.samples.count == 4)
        #expect(text.sum("vllm:num_requests_running") == 8)
        let scrape = try #require(EngineScrape(text))
        #expect(scrape.running == 8)
        #expect(scrape.waiting == 2)
        #expect(scrape.generatedTokens == 12345)
    }

    @Test func extremeValuesNeverBecomeFigures() throws {
        let text = PrometheusText(try Fixture.text("hostile-values.prom"))
        #expect(text.malformedLines == 1) // the 70-digit number
        let scrape = try #require(EngineScrape(text))
        var sampler = EngineMetricsSampler()
        let start = ContinuousClock.now
        _ = sampler.record(scrape, at: start)
        let figures = sampler.record(scrape, at: start + .seconds(5))
        #expect(figures.requestsInFlight == nil) // +Inf
        #expect(figures.queueDepth == nil) // +Inf − 3 − Inf is NaN
        #expect(figures.tokensPerSecond == 0)
        #expect(figures.latencyP50Millis == nil)
    }

    @Test func inputIsCappedInBytesAndLines() {
        let line = "vllm:num_requests_running{model_name=\"m\"} 1\n"
        let lines = (5 << 20) / line.utf8.count
        let huge = String(repeating: line, count: lines)
        let capped = PrometheusText(huge)
        #expect(capped.truncated)
        #expect(capped.samples.count <= PrometheusText.maxLines)
        let byBytes = PrometheusText(huge, maxBytes: 1000, maxLines: .max)
        #expect(byBytes.truncated)
        #expect(byBytes.samples.count == 1000 / line.utf8.count)
        #expect(byBytes.malformedLines == 0) // the line the limit cut is dropped, not misread
        let byLines = PrometheusText(huge, maxLines: 10)
        #expect(byLines.samples.count == 10)
        #expect(byLines.truncated)
        // One line longer than the cap holds no whole line at all.
        let oneLine = PrometheusText("x{l=\"" + String(repeating: "}", count: 5000) + "\"} 1", maxBytes: 100)
        #expect(oneLine.samples.isEmpty && oneLine.truncated)
    }

    @Test func randomAndMutatedInputNeverCrashes() throws {
        var random = SplitMix64(seed: 0x5eed)
        let seeds = try ["vllm-two-models-1.prom", "hostile-labels.prom", "sglang.prom"].map { [UInt8](try Data(contentsOf: Fixture.url($0))) }
        let alphabet = Array("{}\",=\\# \n\t:_aZ9.+-eEInfNa\r".utf8) + [0, 0xff, 0xc3]
        for round in 0..<300 {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<Int(random.next() % 40) + 1 {
                let at = Int(random.next() % UInt64(bytes.count))
                let byte = random.next() % 2 == 0 ? alphabet[Int(random.next() % UInt64(alphabet.count))] : UInt8(truncatingIfNeeded: random.next())
                switch random.next() % 3 {
                case 0: bytes[at] = byte
                case 1: bytes.insert(byte, at: at)
                default: bytes.remove(at: at)
                }
            }
            if round % 10 == 0 { bytes = (0..<Int(random.next() % 4096)).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] } }
            let text = PrometheusText(bytes: bytes, maxLines: 500)
            #expect(text.samples.count + text.malformedLines <= 500)
            var sampler = EngineMetricsSampler()
            let start = ContinuousClock.now
            for step in 0..<2 {
                let figures = sampler.record(EngineScrape(text), at: start + .seconds(step))
                #expect(figures.tokensPerSecond.map { $0.isFinite && $0 >= 0 } ?? true)
                #expect(figures.latencyP50Millis.map { $0.isFinite && $0 >= 0 } ?? true)
            }
        }
    }
}

@Suite struct EngineMetricsFiguresTests {
    let start = ContinuousClock.now

    func scrape(_ fixture: String) throws -> EngineScrape {
        try #require(EngineScrape(parsing: try Fixture.text(fixture)))
    }

    @Test func vLLMRatesAndMedianOverTwoScrapes() throws {
        var sampler = EngineMetricsSampler()
        let first = sampler.record(try scrape("vllm-two-models-1.prom"), at: start)
        // Gauges at once; rates need a second scrape.
        #expect(first == EngineFigures(requestsInFlight: 4, queueDepth: 0))
        let second = sampler.record(try scrape("vllm-two-models-2.prom"), at: start + .seconds(10))
        #expect(second.requestsInFlight == 7)
        #expect(second.queueDepth == 2)
        // (12 000 + 3 000) tokens in 10 s.
        #expect(second.tokensPerSecond == 1500)
        // 20 requests finished: 8 by 1.5 s, 14 by 2 s; the 10th is 2/6 of the way through (1.5, 2].
        let p50 = try #require(second.latencyP50Millis)
        #expect(abs(p50 - (1500 + 500 * 2 / 6)) < 1e-6)
    }

    @Test func aCounterResetReportsNothingForThatInterval() throws {
        var sampler = EngineMetricsSampler()
        _ = sampler.record(try scrape("vllm-two-models-2.prom"), at: start)
        let afterRestart = sampler.record(try scrape("vllm-two-models-1.prom"), at: start + .seconds(5))
        #expect(afterRestart.tokensPerSecond == nil)
        #expect(afterRestart.latencyP50Millis == nil)
        #expect(afterRestart.requestsInFlight == 4)
        // The restarted engine's scrape is the next interval's baseline.
        let next = sampler.record(try scrape("vllm-two-models-2.prom"), at: start + .seconds(15))
        #expect(next.tokensPerSecond == 1500)
    }

    @Test func aFailedScrapeGivesNothingAndKeepsTheBaseline() throws {
        var sampler = EngineMetricsSampler()
        _ = sampler.record(try scrape("vllm-two-models-1.prom"), at: start)
        #expect(sampler.record(nil, at: start + .seconds(5)).isEmpty)
        #expect(sampler.record(try scrape("vllm-two-models-2.prom"), at: start + .seconds(20)).tokensPerSecond == 750)
    }

    @Test func noRequestFinishedMeansNoLatency() throws {
        var sampler = EngineMetricsSampler()
        let same = try scrape("vllm-two-models-1.prom")
        _ = sampler.record(same, at: start)
        let figures = sampler.record(same, at: start + .seconds(5))
        #expect(figures.tokensPerSecond == 0)
        #expect(figures.latencyP50Millis == nil)
    }

    @Test func quantileInterpolatesLikePrometheus() {
        func buckets(_ pairs: [(Double, Double)]) -> [HistogramBucket] { pairs.map { HistogramBucket(upperBound: $0.0, count: $0.1) } }
        // In the first bucket the lower bound is 0.
        #expect(EngineMetricsSampler.quantile(0.5, buckets([(1, 10), (2, 10), (.infinity, 10)])) == 0.5)
        #expect(EngineMetricsSampler.quantile(0.5, buckets([(1, 0), (2, 4), (4, 8), (.infinity, 8)])) == 2)
        // In the +Inf bucket: the highest finite bound.
        #expect(EngineMetricsSampler.quantile(0.5, buckets([(1, 1), (5, 2), (.infinity, 10)])) == 5)
        #expect(EngineMetricsSampler.quantile(0.5, buckets([(1, 0), (.infinity, 0)])) == nil)
        #expect(EngineMetricsSampler.quantile(0.5, buckets([(1, 3), (2, 5)])) == nil) // no +Inf
        // A bucket lower than the one before is read as equal, as Prometheus does.
        #expect(EngineMetricsSampler.quantile(0.5, buckets([(1, 2), (2, 1), (3, 4), (.infinity, 4)])) == 1)
        let earlier = buckets([(1, 5), (2, 5), (.infinity, 5)])
        #expect(EngineMetricsSampler.quantile(0.5, between: earlier, and: buckets([(1, 5), (2, 9), (.infinity, 9)])) == 1.5)
        #expect(EngineMetricsSampler.quantile(0.5, between: earlier, and: buckets([(1, 5), (3, 9), (.infinity, 9)])) == nil)
        #expect(EngineMetricsSampler.quantile(0.5, between: earlier, and: buckets([(1, 4), (2, 9), (.infinity, 9)])) == nil)
    }

    @Test func sglangGaugesAndCounter() throws {
        let first = try scrape("sglang.prom")
        #expect(first.engine == "sglang")
        #expect(first.throughputGauge == 86.50814177726902)
        var sampler = EngineMetricsSampler()
        #expect(sampler.record(first, at: start) == EngineFigures(requestsInFlight: 162, queueDepth: 2826))
        var later = first
        later.generatedTokens = first.generatedTokens.map { $0 + 900 }
        #expect(sampler.record(later, at: start + .seconds(5)).tokensPerSecond == 180)
        let buckets = try #require(first.latencySeconds)
        let median = try #require(EngineMetricsSampler.quantile(0.5, buckets))
        #expect(abs(median - (10 + 10 * (2750.0 - 1880) / (4123 - 1880))) < 1e-9)
    }

    @Test func withoutACounterTheEnginesOwnThroughputIsUsed() throws {
        // SGLang releases before generation_tokens_total.
        let scrape = try #require(EngineScrape(parsing: "sglang:num_running_reqs{model_name=\"m\"} 3.0\nsglang:gen_throughput{model_name=\"m\"} 412.5\n"))
        var sampler = EngineMetricsSampler()
        #expect(sampler.record(scrape, at: start) == EngineFigures(requestsInFlight: 3, tokensPerSecond: 412.5))
    }

    @Test func llamaCppServer() throws {
        let first = try scrape("llamacpp.prom")
        #expect(first.engine == "llamacpp")
        #expect(first.generatedTokens == 91877)
        #expect(first.throughputGauge == 53.9675)
        #expect(first.latencySeconds == nil)
        var sampler = EngineMetricsSampler()
        #expect(sampler.record(first, at: start) == EngineFigures(requestsInFlight: 2, queueDepth: 1))
        var later = first
        later.generatedTokens = 92877
        #expect(sampler.record(later, at: start + .milliseconds(2500)).tokensPerSecond == 400)
    }

    @Test func otherEnginesAndNonsenseGiveNoFigures() throws {
        #expect(EngineScrape(parsing: try Fixture.text("tgi.prom")) == nil)
        #expect(EngineScrape(parsing: "") == nil)
        #expect(EngineScrape(parsing: "<html><body>404 Not Found</body></html>") == nil)
        #expect(EngineScrape(parsing: "vllm:something_else 1\n") == nil)
        var sampler = EngineMetricsSampler()
        #expect(sampler.record(nil, at: start).isEmpty)
    }
}

/// The agent's reader against the real `airlock-sim` process on loopback, which serves vLLM's
/// names. This target does not link the simulator, so it runs the binary the build put beside
/// the tests, and is skipped where there is none.
@Suite(.enabled(if: SimulatorProcess.binary != nil, "airlock-sim is not built beside the tests"))
struct EngineMetricsSimulatorTests {
    @Test func figuresFromTheSimulatorAfterRequests() async throws {
        let sim = try await SimulatorProcess.start(["--model", "sim-small", "--model", "sim \"quoted\" model", "--tokens-per-second", "0"])
        defer { sim.stop() }  // a signal, not a wait: the process is reaped by Foundation
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        var sampler = EngineMetricsSampler()

        let idle = try #require(await EngineMetrics.scrape(client, engineURL: sim.url))
        #expect(idle.engine == "vllm")
        #expect(idle.generatedTokens == 0)
        #expect(sampler.record(idle, at: .now) == EngineFigures(requestsInFlight: 0, queueDepth: 0))

        try await sim.post(client, "/v1/completions", #"{"model":"sim-small","prompt":"hello","max_tokens":20}"#)
        try await sim.post(client, "/v1/chat/completions",
                           #"{"model":"sim \"quoted\" model","stream":true,"max_tokens":7,"messages":[{"role":"user","content":"hi"}]}"#)
        let after = try #require(await EngineMetrics.scrape(client, engineURL: sim.url))
        #expect(after.generatedTokens == 27)
        let figures = sampler.record(after, at: .now)
        #expect(figures.requestsInFlight == 0)
        #expect(figures.queueDepth == 0)
        #expect((figures.tokensPerSecond ?? 0) > 0)
        #expect(figures.latencyP50Millis != nil)
    }

    @Test func tokensAreCountedWhileARequestGenerates() async throws {
        let sim = try await SimulatorProcess.start(["--tokens-per-second", "10"])
        defer { sim.stop() }  // a signal, not a wait: the process is reaped by Foundation
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        // 40 tokens at 10 per second, not streamed: the counter moves before the answer. Four
        // seconds of generation, so a busy CI machine still gets scrapes in while it runs.
        let request = Task { try await sim.post(client, "/v1/completions", #"{"model":"sim-small","prompt":"x","max_tokens":40}"#) }
        var midway: EngineScrape?
        for _ in 0..<400 where midway == nil {
            if let scrape = await EngineMetrics.scrape(client, engineURL: sim.url), scrape.running == 1,
               let tokens = scrape.generatedTokens, tokens > 0, tokens < 40 { midway = scrape }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await request.value
        #expect(midway != nil)
        let done = try #require(await EngineMetrics.scrape(client, engineURL: sim.url))
        #expect(done.running == 0)
        #expect(done.generatedTokens == 40)
    }

    @Test func aMissingEndpointOrAnEngineThatIsDownGivesNothing() async throws {
        let sim = try await SimulatorProcess.start([])
        defer { sim.stop() }  // a signal, not a wait: the process is reaped by Foundation
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        #expect(await EngineMetrics.scrape(client, engineURL: sim.url + "/v1") == nil) // 404
        #expect(await EngineMetrics.scrape(client, engineURL: "http://127.0.0.1:1") == nil)
    }
}

/// One `airlock-sim --port 0`, its port read from the `SIM_PORT=` line it prints.
final class SimulatorProcess: Sendable {
    static let binary: URL? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(), Bundle.main.bundleURL,
                          Bundle.main.bundleURL.deletingLastPathComponent(), root.appendingPathComponent(".build/debug")]
        return candidates.map { $0.appendingPathComponent("airlock-sim") }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    let process: Process
    let url: String

    /// Starts the simulator and reads its port. The reads block, so they run on a Dispatch
    /// thread: blocking one of the cooperative pool's few threads (two on a 2-core machine)
    /// stalls every other test's tasks meanwhile.
    static func start(_ arguments: [String]) async throws -> SimulatorProcess {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try SimulatorProcess(arguments) })
            }
        }
    }

    private init(_ arguments: [String]) throws {
        guard let binary = Self.binary else { throw SimulatorDidNotStart(printed: "") }
        let process = Process()
        process.executableURL = binary
        process.arguments = ["--port", "0"] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var printed = Data()
        while !printed.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            printed.append(chunk)
        }
        let line = String(decoding: printed, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard line.hasPrefix("SIM_PORT="), let port = Int(line.dropFirst("SIM_PORT=".count)) else {
            process.terminate()
            throw SimulatorDidNotStart(printed: line)
        }
        self.process = process
        url = "http://127.0.0.1:\(port)"
    }

    struct SimulatorDidNotStart: Error { var printed: String }
    struct RequestFailed: Error { var status: UInt }

    func post(_ client: HTTPClient, _ path: String, _ body: String) async throws {
        var request = HTTPClientRequest(url: url + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw RequestFailed(status: response.status.code) }
    }

    func stop() {
        process.terminate()
    }
}
