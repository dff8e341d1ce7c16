/// One metrics report (every 15 s) as the health rules need it.
public struct NodeMetrics: Sendable, Equatable {
    /// The hottest GPU, if nvidia-smi could say.
    public var maxTemperatureCelsius: Double?
    /// Out-of-memory events since the previous report.
    public var oomEvents: Int
    /// The engine's median request latency, if it reports one.
    public var latencyP50Millis: Double?
    /// GPU memory in use and in all, summed over the node's GPUs (nil when not reported): shown
    /// to operators, not judged.
    public var memoryUsedMiB: UInt64?
    public var memoryTotalMiB: UInt64?
    /// The GPUs' mean utilisation, 0–100 (nil when not reported): for `/metrics`.
    public var utilisationPercent: Double?

    public init(maxTemperatureCelsius: Double?, oomEvents: Int, latencyP50Millis: Double?,
                memoryUsedMiB: UInt64? = nil, memoryTotalMiB: UInt64? = nil, utilisationPercent: Double? = nil) {
        self.maxTemperatureCelsius = maxTemperatureCelsius
        self.oomEvents = oomEvents
        self.latencyP50Millis = latencyP50Millis
        self.memoryUsedMiB = memoryUsedMiB
        self.memoryTotalMiB = memoryTotalMiB
        self.utilisationPercent = utilisationPercent
    }
}

/// Seed 004 § 22.2's health rules. A node breaking one drains (no new work) until a report
/// that breaks none; it is not killed, because its in-flight requests may still finish.
public struct HealthRules: Sendable, Equatable {
    /// Hotter than this (°C) on any GPU: throttling and wrong answers follow.
    public var maxTemperatureCelsius: Double = 90
    /// This many out-of-memory events in one 15 s report is a spike, not bad luck.
    public var oomEventsPerReport = 3
    /// p50 latency above this multiple of the node's own baseline.
    public var latencyFactor: Double = 3
    /// Below this p50 (ms) latency never counts as a spike: a 3× jump from 5 to 15 ms is noise.
    public var latencyFloorMillis: Double = 100

    public init() {}

    /// Why `metrics` is unhealthy, or nil. `baseline` is the node's learnt normal latency.
    func violation(_ metrics: NodeMetrics, baseline: Double?) -> String? {
        if let temperature = metrics.maxTemperatureCelsius, temperature > maxTemperatureCelsius {
            return "GPU temperature \(Int(temperature)) °C over \(Int(maxTemperatureCelsius)) °C"
        }
        if metrics.oomEvents >= oomEventsPerReport {
            return "\(metrics.oomEvents) out-of-memory events in one report"
        }
        if let latency = metrics.latencyP50Millis, let baseline, latency > latencyFloorMillis,
           latency > latencyFactor * baseline {
            return "p50 latency \(Int(latency)) ms over \(latencyFactor)× its baseline \(Int(baseline)) ms"
        }
        return nil
    }

    /// The baseline moves slowly (1/8 per healthy report) so that a slow drift is learnt but a
    /// spike is not; unhealthy reports never move it.
    static func updatedBaseline(_ baseline: Double?, with latency: Double?) -> Double? {
        guard let latency, latency > 0 else { return baseline }
        guard let baseline else { return latency }
        return baseline + (latency - baseline) / 8
    }
}
