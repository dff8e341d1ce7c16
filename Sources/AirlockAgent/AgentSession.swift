import AirlockCore
import AirlockNodeProtocol
import AirlockReleases
import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import Synchronization

/// What the agent says about its host and engine.
public struct AgentSettings: Sendable {
    public var state: AgentState
    public var controlHost: String
    public var controlPort: Int
    public var engineURL: String
    public var models: [String]
    public var capacityTokensPerSecond: UInt64
    public var zone: String
    public var gpus: GPUProbe
    /// What the agent registers as: its release folder's version (the build's outside one).
    public var version = RunningRelease.current.release ?? RunningRelease.current.build
    /// Keys a new agent release must be signed with; nil: this agent takes no upgrade.
    public var releaseKeys: ReleaseKeys?
    /// The engine this agent starts and restarts (`--engine-command`); nil: it runs on its own,
    /// and the agent cannot reload it.
    public var engine: EngineSupervisor?
    /// How long in-flight work may take to finish when the node drains (SIGTERM, engine reload).
    public var drain: Duration = .seconds(10)

    public init(state: AgentState, controlHost: String, controlPort: Int, engineURL: String, models: [String],
                capacityTokensPerSecond: UInt64, zone: String, gpus: GPUProbe = GPUProbe()) {
        self.state = state
        self.controlHost = controlHost
        self.controlPort = controlPort
        self.engineURL = engineURL
        self.models = models
        self.capacityTokensPerSecond = capacityTokensPerSecond
        self.zone = zone
        self.gpus = gpus
    }
}

/// The agent's side of `NodeControl.Connect`: registers, heartbeats (with the engine's health and
/// the figures its /metrics gives), sends GPU and engine metrics, answers commands, and says so
/// when it is shutting down. Reconnects with backoff (1 s doubling to 30 s) whenever the stream
/// ends, until `run`'s task is cancelled.
public final class AgentSession: Sendable {
    public let settings: AgentSettings
    let logger: Logger
    let outbox = Mutex<[Airlock_Node_V1_AgentMessage]>([])
    private let stopping = Atomic<Bool>(false)
    /// An engine reload is under way: the node is announced as under maintenance until it ends.
    let reloading = Atomic<Bool>(false)
    /// Seconds between heartbeats and between metrics reports: the control plane's `Registered`
    /// answer sets them; these are the protocol's defaults until it has.
    private let heartbeatSeconds = Atomic<UInt32>(5)
    private let metricsSeconds = Atomic<UInt32>(15)
    let engineClient: HTTPClient
    let upgrade: AgentUpgradeReceiver

    public init(settings: AgentSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        upgrade = AgentUpgradeReceiver(state: settings.state, keys: settings.releaseKeys)
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(2), read: .seconds(2))
        // Below the engines' own keep-alive (vLLM, SGLang: 5 s), so that the agent, not the
        // engine, closes an idle connection: see `status(of:)`.
        configuration.connectionPool = .init(idleTimeout: .seconds(4))
        engineClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Tells the control plane this node is going away: it takes no new work from now on.
    public func shuttingDown(reason: String) {
        stopping.store(true, ordering: .relaxed)
        var notice = Airlock_Node_V1_ShuttingDown()
        notice.reason = reason
        var message = Airlock_Node_V1_AgentMessage()
        message.shuttingDown = notice
        outbox.withLock { $0.append(message) }
    }

    public func run() async {
        var delay: Duration = .seconds(1)
        while !Task.isCancelled {
            let began = ContinuousClock.now
            do {
                try await connectOnce()
            } catch {
                logger.warning("control stream ended", metadata: ["error": "\(error)"])
            }
            if ContinuousClock.now - began > .seconds(60) { delay = .seconds(1) }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(30))
        }
        try? await engineClient.shutdown()
    }

    private func connectOnce() async throws {
        let state = settings.state
        let transport = try HTTP2ClientTransport.Posix(
            target: .dns(host: settings.controlHost, port: settings.controlPort),
            transportSecurity: .mTLS(
                certificateChain: [.file(path: state.certificatePath, format: .pem)],
                privateKey: .file(path: state.keyPath, format: .pem)
            ) { config in
                config.trustRoots = .certificates([.file(path: state.caPath, format: .pem)])
                config.serverCertificateVerification = .fullVerification
            })
        try await withGRPCClient(transport: transport) { client in
            let control = Airlock_Node_V1_NodeControl.Client(wrapping: client)
            let request = StreamingClientRequest<Airlock_Node_V1_AgentMessage> { writer in
                try await self.produce(into: writer)
            }
            try await control.connect(request: request) { response in
                for try await message in response.messages { self.receive(message) }
            }
        }
    }

    /// Register, then heartbeats and metrics at the intervals the control plane set; queued
    /// messages (shutdown notice, command results) go out within a second.
    private func produce(into writer: RPCWriter<Airlock_Node_V1_AgentMessage>) async throws {
        var register = Airlock_Node_V1_Register()
        register.agentVersion = settings.version
        register.hostname = ProcessInfo.processInfo.hostName
        register.zone = settings.zone
        register.engineURL = settings.engineURL
        register.models = settings.models
        register.capacityTokensPerSecond = settings.capacityTokensPerSecond
        let readings = await settings.gpus.read()
        if case let .readings(gpus) = readings, !gpus.isEmpty {
            let summary = GPUProbe.hardware(gpus)
            var hardware = Airlock_Node_V1_Hardware()
            hardware.gpuType = summary.gpuType
            hardware.gpuCount = summary.gpuCount
            hardware.vramMibPerGpu = summary.vramMiBPerGPU
            register.hardware = hardware
        }
        var first = Airlock_Node_V1_AgentMessage()
        first.register = register
        try await writer.write(first)
        if stopping.load(ordering: .relaxed) { shuttingDown(reason: "agent stopping") }
        if let failed = AgentUpgradeStage.takeFailure(settings.state) {
            reply(failed.commandID, ok: false, failed.reason)
        }
        var sequence: UInt64 = 0
        var elapsed: UInt32 = 0
        // Heartbeats and reports each take rates over their own interval, from one shared scrape.
        var beatWindow = EngineMetricsSampler()
        var reportWindow = EngineMetricsSampler()
        // Registering lifts an earlier stream's maintenance drain, so each stream announces anew.
        var announced: MaintenanceNotice?
        // The last GPU probe problem logged, so a broken driver is one line, not one per report.
        var lastProbeProblem: String?
        while !Task.isCancelled {
            for message in outbox.withLock({ queue -> [Airlock_Node_V1_AgentMessage] in defer { queue = [] }; return queue }) {
                try await writer.write(message)
            }
            // Once stopping, the shutdown notice's drain stands: a maintenance or reload ending
            // now must not send "over", which lifts the same drain on the control plane.
            let notice = MaintenanceNotice.current(in: settings.state)
                ?? (reloading.load(ordering: .relaxed) ? MaintenanceNotice(reason: "engine reload", startsAt: 0) : nil)
            if notice != announced, !stopping.load(ordering: .relaxed) {
                try await writer.write(maintenanceMessage(notice))
                announced = notice
            }
            let beatDue = elapsed % heartbeatSeconds.load(ordering: .relaxed) == 0
            let reportDue = elapsed % metricsSeconds.load(ordering: .relaxed) == 0
            if beatDue || reportDue {
                // Health, figures and GPUs are asked at once: a hung engine or a wedged driver
                // costs one timeout, not three in a row before the heartbeat.
                async let scraped = EngineMetrics.scrape(engineClient, engineURL: settings.engineURL)
                async let probed: GPUProbeResult? = reportDue ? settings.gpus.read() : nil
                let healthy = beatDue ? await engineHealthy() : false
                let scrape = await scraped
                let probe = await probed
                let now = ContinuousClock.now
                if beatDue {
                    sequence += 1
                    let figures = beatWindow.record(scrape, at: now)
                    var beat = Airlock_Node_V1_Heartbeat()
                    beat.sequence = sequence
                    beat.engineState = healthy ? .ready : .failed
                    if let value = figures.requestsInFlight { beat.requestsInFlight = value }
                    if let value = figures.queueDepth { beat.queueDepth = value }
                    if let value = figures.tokensPerSecond { beat.tokensPerSecond = value }
                    var message = Airlock_Node_V1_AgentMessage()
                    message.heartbeat = beat
                    try await writer.write(message)
                }
                if reportDue {
                    let figures = reportWindow.record(scrape, at: now)
                    var gpus: [GPUReading]?
                    switch probe {
                    case let .readings(readings)?:
                        gpus = readings
                        lastProbeProblem = nil
                    case let .failed(reason)?, let .unavailable(reason)?:
                        if reason != lastProbeProblem {
                            logger.warning("GPU readings unavailable; metrics carry the engine's figures only", metadata: ["reason": "\(reason)"])
                        }
                        lastProbeProblem = reason
                    case nil:
                        break
                    }
                    if gpus != nil || !figures.isEmpty {
                        var message = Airlock_Node_V1_AgentMessage()
                        message.metrics = Self.metrics(gpus ?? [], figures)
                        try await writer.write(message)
                    }
                }
            }
            elapsed &+= 1
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// A warning for a new or changed notice, "over" when it was removed.
    private func maintenanceMessage(_ notice: MaintenanceNotice?) -> Airlock_Node_V1_AgentMessage {
        var message = Airlock_Node_V1_AgentMessage()
        if let notice {
            var warning = Airlock_Node_V1_MaintenanceWarning()
            warning.reason = notice.reason
            warning.secondsUntil = UInt32(clamping: max(0, notice.startsAt - Int64(Date().timeIntervalSince1970)))
            message.maintenanceWarning = warning
            logger.notice("maintenance announced: the control plane drains this node", metadata: ["reason": "\(notice.reason)"])
        } else {
            message.maintenanceOver = Airlock_Node_V1_MaintenanceOver()
            logger.notice("maintenance over: the control plane sends work again")
        }
        return message
    }

    /// The report's engine fields are plain proto3 numbers: 0 where the engine did not say, which
    /// the control plane reads as "no figure".
    private static func metrics(_ gpus: [GPUReading], _ engine: EngineFigures) -> Airlock_Node_V1_Metrics {
        var metrics = Airlock_Node_V1_Metrics()
        metrics.tokensPerSecond = engine.tokensPerSecond ?? 0
        metrics.queueDepth = engine.queueDepth ?? 0
        metrics.latencyP50Ms = engine.latencyP50Millis ?? 0
        metrics.gpus = gpus.map { reading in
            var gpu = Airlock_Node_V1_GPUReading()
            gpu.index = reading.index
            gpu.name = reading.name
            gpu.temperatureCelsius = reading.temperatureCelsius ?? 0
            gpu.memoryUsedMib = reading.memoryUsedMiB ?? 0
            gpu.memoryTotalMib = reading.memoryTotalMiB ?? 0
            gpu.utilizationPercent = reading.utilizationPercent ?? 0
            return gpu
        }
        return metrics
    }

    private func receive(_ message: Airlock_Node_V1_ControlMessage) {
        switch message.body {
        case let .registered(registered)?:
            heartbeatSeconds.store(max(1, registered.heartbeatIntervalSeconds), ordering: .relaxed)
            metricsSeconds.store(max(1, registered.metricsIntervalSeconds), ordering: .relaxed)
            logger.notice("registered with the control plane", metadata: [
                "node": "\(registered.nodeName)", "id": "\(registered.nodeID)"])
        case let .command(command)?:
            let description: String
            switch command.action {
            case let .drain(drain)?: description = "drain (\(drain.reason.prefix(200))): the control plane sends no new work"
            case .resume?: description = "resume: the control plane sends work again"
            case .reloadModel?:
                logger.notice("command from the control plane", metadata: ["command": "reload the engine"])
                Task { await self.reloadEngine(commandID: command.commandID) }
                return
            case let .upgradeAgent(offer)?:
                return beginUpgrade(command.commandID, offer)
            case nil: description = "unknown command"
            }
            logger.notice("command from the control plane", metadata: ["command": "\(description)"])
            reply(command.commandID, ok: command.action != nil, description)
        case let .agentBinaryChunk(chunk)?:
            takeUpgradeChunk(chunk)
        case nil:
            break
        }
    }

    private func beginUpgrade(_ commandID: UInt64, _ offer: Airlock_Node_V1_UpgradeAgent) {
        do {
            try upgrade.begin(commandID, offer, runningVersion: settings.version)
            logger.notice("agent release offered; receiving it", metadata: ["release": "\(offer.version.prefix(32))"])
        } catch {
            reply(commandID, ok: false, "\(error)")
        }
    }

    /// The last piece checked: stage, say so, and stop the way SIGTERM does (drain first); the
    /// service manager starts the agent again, which installs the staged release before it runs.
    private func takeUpgradeChunk(_ chunk: Airlock_Node_V1_AgentBinaryChunk) {
        do {
            guard let staged = try upgrade.take(chunk) else { return }
            logger.notice("agent release staged; draining and restarting to install it", metadata: ["release": "\(staged.version)"])
            reply(staged.commandID, ok: true, "release \(staged.version) staged; draining and restarting")
            Task {
                try? await Task.sleep(for: .seconds(1))  // the answer goes out with the next tick
                kill(getpid(), SIGTERM)
            }
        } catch {
            reply(chunk.commandID, ok: false, "\(error)")
        }
    }

    /// The engine's `/health` answers 2xx (vLLM, SGLang, llama.cpp's `llama-server`). An engine
    /// without that route (404: llama-cpp-python's server) is judged by `/v1/models`, which every
    /// OpenAI-compatible engine serves once its model is loaded.
    func engineHealthy() async -> Bool {
        switch await status(of: "/health") {
        case 404?: return await status(of: "/v1/models").map { (200..<300).contains($0) } ?? false
        case let code?: return (200..<300).contains(code)
        case nil: return false
        }
    }

    /// A request that fails without an answer, other than by timing out, is sent once more: the
    /// heartbeat comes every 5 s, the period after which uvicorn-based engines close an idle
    /// connection, so a probe can meet a connection the engine is closing at that instant — that
    /// is no reason to report the engine failed and have the node taken out of service. A hung
    /// engine (a timeout) is not asked again.
    private func status(of path: String) async -> UInt? {
        switch await answer(path) {
        case let .success(code): return code
        case let .failure(error) where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error as? HTTPClientError): return nil
        case .failure: return try? await answer(path).get()
        }
    }

    /// One `GET`: the status the engine answered within 2 s, or why there was none.
    private func answer(_ path: String) async -> Result<UInt, any Error> {
        do {
            let response = try await engineClient.execute(HTTPClientRequest(url: settings.engineURL + path), timeout: .seconds(2))
            _ = try? await response.body.collect(upTo: 1024 * 1024)
            return .success(response.status.code)
        } catch {
            return .failure(error)
        }
    }
}
