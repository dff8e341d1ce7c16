import Foundation
import Synchronization

/// What vLLM exports at `GET /metrics`, kept as the simulator generates, so that a node agent in
/// front of it reads figures as it would from vLLM: per model, the requests generating, the tokens
/// generated so far and the end-to-end latency of finished requests.
final class SimulatedMetrics: Sendable {
    /// Upper bounds, in seconds, of the latency histogram: fewer and shorter than vLLM's, as
    /// simulated requests last milliseconds to seconds.
    static let latencyBounds: [Double] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    private struct Model {
        var running = 0
        var generatedTokens = 0
        /// Per bound, then +Inf; not cumulative (the exposition sums them).
        var latencyCounts = [Int](repeating: 0, count: SimulatedMetrics.latencyBounds.count + 1)
        var latencySum = 0.0
    }

    /// A generation in progress. Non-streamed ones do not wake per token, so their tokens are
    /// counted by the clock: one per `delay` after `firstToken`, all at once without a delay.
    private struct Generation {
        var model: String
        var began: ContinuousClock.Instant
        var paced: (firstToken: ContinuousClock.Instant, delay: Duration?, tokens: Int)?

        func producedTokens(at now: ContinuousClock.Instant) -> Int {
            guard let paced, now >= paced.firstToken else { return 0 }
            guard let delay = paced.delay else { return paced.tokens }
            return min(paced.tokens, Int((paced.firstToken.duration(to: now) / delay).rounded(.down)))
        }
    }

    private struct State {
        var models: [String: Model] = [:]
        var order: [String] = []
        var generations: [UInt64: Generation] = [:]
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>

    init(models: [String]) {
        var initial = State()
        // Every served model has its series from the start, at zero, as vLLM's do.
        for model in models where initial.models[model] == nil {
            initial.models[model] = Model()
            initial.order.append(model)
        }
        state = Mutex(initial)
    }

    /// A request starts generating (`began`: when it arrived, which end-to-end latency counts from).
    func begin(model: String, began: ContinuousClock.Instant) -> UInt64 {
        state.withLock { state in
            state.nextID += 1
            if state.models[model] == nil { state.order.append(model) }
            state.models[model, default: Model()].running += 1
            state.generations[state.nextID] = Generation(model: model, began: began)
            return state.nextID
        }
    }

    /// A streamed token, counted as it is produced.
    func produced(_ id: UInt64) {
        state.withLock { state in
            guard let model = state.generations[id]?.model else { return }
            state.models[model]?.generatedTokens += 1
        }
    }

    /// A non-streamed generation's schedule, from its first token on.
    func pace(_ id: UInt64, tokens: Int, every delay: Duration?) {
        state.withLock { $0.generations[id]?.paced = (ContinuousClock.now, delay, tokens) }
    }

    /// The generation is over; `completed` (not failed nor cut off) records its latency.
    func end(_ id: UInt64, completed: Bool) {
        let now = ContinuousClock.now
        state.withLock { state in
            guard let generation = state.generations.removeValue(forKey: id) else { return }
            var model = state.models[generation.model, default: Model()]
            model.running -= 1
            model.generatedTokens += completed ? generation.paced?.tokens ?? 0 : generation.producedTokens(at: now)
            if completed {
                let span = generation.began.duration(to: now)
                let seconds = span / .seconds(1)
                model.latencyCounts[Self.latencyBounds.firstIndex { seconds <= $0 } ?? Self.latencyBounds.count] += 1
                model.latencySum += seconds
            }
            state.models[generation.model] = model
        }
    }

    /// The Prometheus text vLLM would serve, with its names, labels and types.
    func exposition() -> String {
        let now = ContinuousClock.now
        let (order, models) = state.withLock { state in
            var models = state.models
            for generation in state.generations.values { models[generation.model]?.generatedTokens += generation.producedTokens(at: now) }
            return (state.order, models)
        }
        var lines: [String] = []
        func family(_ family: String, _ type: String, _ help: String, _ value: (Model) -> Double) {
            lines += ["# HELP \(family) \(help)", "# TYPE \(family) \(type)"]
            for model in order { lines.append("\(family)\(Self.labels(model)) \(value(models[model] ?? Model()))") }
        }
        family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.") { Double($0.running) }
        // The simulator queues nothing: every request generates at once.
        family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.") { _ in 0 }
        family("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.") { Double($0.generatedTokens) }
        let latency = "vllm:e2e_request_latency_seconds"
        lines += ["# HELP \(latency) Histogram of e2e request latency in seconds.", "# TYPE \(latency) histogram"]
        for name in order {
            let model = models[name] ?? Model()
            var cumulative = 0
            for (index, count) in model.latencyCounts.enumerated() {
                cumulative += count
                let bound = index < Self.latencyBounds.count ? "\(Self.latencyBounds[index])" : "+Inf"
                lines.append("\(latency)_bucket\(Self.labels(name, le: bound)) \(Double(cumulative))")
            }
            lines.append("\(latency)_count\(Self.labels(name)) \(Double(cumulative))")
            lines.append("\(latency)_sum\(Self.labels(name)) \(model.latencySum)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func labels(_ model: String, le: String? = nil) -> String {
        let escaped = model.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "{engine=\"0\"" + (le.map { ",le=\"\($0)\"" } ?? "") + ",model_name=\"\(escaped)\"}"
    }
}
