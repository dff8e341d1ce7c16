import AirlockSimulator
import ArgumentParser
import Foundation
import Hummingbird
import Logging

/// `airlock-sim`: the simulated GPU engine for tests, the demo and benchmarks. Plain HTTP on
/// loopback by default, like an engine behind a node agent.
@main
struct AirlockSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "airlock-sim",
        abstract: "A simulated OpenAI-compatible inference engine (no GPU needed).",
        discussion: "Prompt directives override the flags per request: [sim:fail], [sim:die-after=N], [sim:no-usage], [sim:tps=N], [sim:ttft=MS], [sim:status=CODE].")

    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind; 0 picks a free one (printed as SIM_PORT=…).") var port = 8000
    @Option(name: .customLong("model"), help: "A model to serve (repeatable).") var models: [String] = []
    @Option(help: "Generated tokens per second; 0 is instant.") var tokensPerSecond: Double = 200
    @Option(help: "Time to first token in milliseconds.") var ttftMs = 0
    @Option(help: "Fraction of requests that fail with 500 (0...1).") var failureRate = 0.0
    @Option(help: "Close streams abruptly after this many tokens.") var dieAfterTokens: Int?
    @Flag(help: "Never report usage.") var noUsage = false
    @Option(help: "Completion length when a request sets no max_tokens.") var defaultMaxTokens = 16
    @Option(help: "Close a connection idle this many seconds after its last response, as vLLM and SGLang (uvicorn's timeout_keep_alive) do after 5; 0 never.")
    var keepAliveSeconds = 5

    func validate() throws {
        guard (0...1).contains(failureRate) else { throw ValidationError("--failure-rate must be between 0 and 1") }
        guard tokensPerSecond >= 0, ttftMs >= 0, defaultMaxTokens >= 0, keepAliveSeconds >= 0 else { throw ValidationError("rates and times must not be negative") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
    }

    func run() async throws {
        let settings = SimulatorSettings(
            models: models.isEmpty ? ["sim-small"] : models, tokensPerSecond: tokensPerSecond,
            timeToFirstTokenMillis: ttftMs, failureRate: failureRate, dieAfterTokens: dieAfterTokens,
            reportsUsage: !noUsage, defaultMaxTokens: defaultMaxTokens)
        var logger = Logger(label: "airlock-sim")
        logger.logLevel = .warning
        let app = Application(
            router: SimulatedEngine(settings: settings).router(),
            server: .http1(configuration: .init(idleTimeout: keepAliveSeconds > 0 ? .seconds(Int64(keepAliveSeconds)) : nil)),
            configuration: .init(address: .hostname(host, port: port), serverName: "airlock-sim"),
            onServerRunning: { channel in
                // Unbuffered: scripts read this line from a pipe while the engine runs.
                FileHandle.standardOutput.write(Data("SIM_PORT=\(channel.localAddress?.port ?? 0)\n".utf8))
            },
            logger: logger)
        try await app.runService()
    }
}
