import AirlockAdmin
import AirlockCertificates
import AirlockCore
import AirlockIdentity
import AirlockNodeControl
import AirlockScheduler
import AirlockStore
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Hummingbird
import Logging
import ServiceLifecycle

/// Everything about nodes inside the daemon: the registry and scheduler, the node CA, port 9443
/// and the enrolment route on the HTTPS port.
struct NodePlane {
    let registry: NodeRegistry
    let scheduler: Scheduler
    let reconciler: NodeReconciler
    let enrolment: Enrolment
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let logger: Logger

    init(_ config: AirlockConfig, store: Store, hasher: KeyHasher, logger: Logger) throws {
        let clock: @Sendable () -> Int64 = { WallClock.system.now().value }
        registry = NodeRegistry(clock: clock) { change in
            logger.notice("node \(change.to)", metadata: [
                "node": "\(change.nodeName)", "id": "\(change.nodeID)", "from": "\(change.from?.description ?? "-")",
                "reason": "\(change.reason)"])
        }
        var settings = SchedulerSettings()
        settings.fallbackZones = config.scheduler.fallbackZones
        settings.affinityMargin = config.scheduler.affinityMargin
        settings.shedLoad = config.scheduler.shedLoad
        scheduler = Scheduler(registry: registry, settings: settings, clock: clock)
        let admin = AdminActions(store: store, hasher: hasher, rotationGraceSeconds: config.keyRotationGraceSeconds)
        let (authority, created) = try NodeAuthority.openOrCreate(dataDirectory: config.dataDir)
        if created { logger.notice("created the node CA", metadata: ["path": "\(config.dataDir)/node-ca/ca.crt"]) }
        let gate = NodeGate(authority: authority, admin: admin, logger: logger)
        let connections = NodeConnections()
        let service = NodeControlService(
            gate: gate, registry: registry, connections: connections, homeZone: config.gateway.zone,
            knownModels: { Set(try await admin.listModels().map(\.name)) }, logger: logger)
        reconciler = NodeReconciler(admin: admin, registry: registry, connections: connections, logger: logger)
        enrolment = Enrolment(admin: admin, authority: authority, logger: logger)
        let hostnames = Array(Set(["localhost", ProcessInfo.processInfo.hostName] + config.agentHostnames)).sorted()
        server = try NodeControlServer.make(host: config.agentListen.host, port: config.agentListen.port, hostnames: hostnames,
                                            authority: authority, gate: gate, service: service)
        self.logger = logger
    }

    /// `POST /agent/v1/enroll`: JSON in, JSON out; refusals as `{"error": {"message": …}}`.
    func addEnrolmentRoute(to router: Router<BasicRequestContext>) {
        let enrolment = enrolment
        router.post("/agent/v1/enroll") { request, _ -> Response in
            var request = request
            let status: HTTPResponse.Status
            let body: Data
            do {
                let bytes = try await request.collectBody(upTo: Enrolment.maxBodyBytes)
                let issued = try await enrolment.enroll(body: Data(buffer: bytes))
                (status, body) = (.ok, try JSONEncoder().encode(issued))
            } catch let refusal as Enrolment.Refusal {
                (status, body) = (HTTPResponse.Status(code: refusal.status), Self.error(refusal.message))
            } catch {
                (status, body) = (.badRequest, Self.error("the request body must be at most \(Enrolment.maxBodyBytes) bytes of JSON"))
            }
            return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: body)))
        }
    }

    private static func error(_ message: String) -> Data {
        (try? JSONEncoder().encode(["error": ["message": message]])) ?? Data()
    }

    /// Port 9443 as a lifecycle service: stops accepting on graceful shutdown.
    func service() -> some Service { NodeControlListener(server: server, logger: logger) }
}

struct NodeControlListener: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let logger: Logger

    func run() async throws {
        try await withGracefulShutdownHandler {
            async let serving: Void = server.serve()
            if let address = try await server.listeningAddress {
                logger.notice("serving node agents (gRPC, mutual TLS)", metadata: ["address": "\(address)"])
            }
            try await serving
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }
}
