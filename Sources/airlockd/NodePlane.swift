import AirlockAdmin
import AirlockCertificates
import AirlockCore
import AirlockIdentity
import AirlockNodeControl
import AirlockNodeProtocol
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
    /// The admin layer over the same store, for what the node plane records and reads.
    let admin: AdminActions
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let address: ListenAddress
    /// Rolling this release's agent out to the connected nodes (`airlock upgrade agents`).
    let rollouts: AgentRollout
    let logger: Logger

    init(_ config: AirlockConfig, store: Store, hasher: KeyHasher, logger: Logger) throws {
        let clock: @Sendable () -> Int64 = { WallClock.system.now().value }
        registry = NodeRegistry(clock: clock) { change in
            logger.notice("node \(change.to)", metadata: [
                "node": "\(change.nodeName)", "id": "\(change.nodeID)", "from": "\(change.from?.description ?? "-")",
                "reason": "\(change.reason)"])
        }
        var placement = config.scheduler
        placement.connectionCap = config.gateway.maxConnectionsPerEngine
        scheduler = Scheduler(registry: registry, settings: placement, clock: clock)
        admin = AdminActions(store: store, hasher: hasher, rotationGraceSeconds: config.keyRotationGraceSeconds)
        let admin = admin
        let (authority, created) = try NodeAuthority.openOrCreate(dataDirectory: config.dataDir)
        if created { logger.notice("created the node CA", metadata: ["path": "\(config.dataDir)/node-ca/ca.crt"]) }
        let gate = NodeGate(authority: authority, admin: admin, logger: logger)
        let connections = NodeConnections()
        let catalog: @Sendable () async throws -> Set<String> = { Set(try await admin.listModels().map(\.name)) }
        let service = NodeControlService(
            gate: gate, registry: registry, connections: connections, homeZone: config.gateway.zone,
            knownModels: catalog, logger: logger)
        reconciler = NodeReconciler(admin: admin, catalog: catalog, registry: registry, connections: connections, logger: logger)
        enrolment = Enrolment(admin: admin, authority: authority, logger: logger)
        rollouts = AgentRollout(connections: connections, admin: admin, logger: logger)
        server = try NodeControlServer.make(host: config.agentListen.host, port: config.agentListen.port,
                                            hostnames: Serve.localHostnames(config.agentHostnames),
                                            authority: authority, gate: gate, service: service)
        address = config.agentListen
        self.logger = logger
    }

    /// `EnrolmentExchange.path` on the HTTPS port: JSON in, JSON out.
    func addEnrolmentRoute<Context: RequestContext>(to router: Router<Context>) {
        let enrolment = enrolment
        router.post(RouterPath(EnrolmentExchange.path)) { request, _ -> Response in
            var request = request
            let status: HTTPResponse.Status
            let body: Data
            do {
                let bytes = try await request.collectBody(upTo: EnrolmentExchange.maxRequestBytes)
                (status, body) = (.ok, try JSONEncoder().encode(try await enrolment.enroll(body: Data(buffer: bytes))))
            } catch let refusal as Enrolment.Refusal {
                (status, body) = (HTTPResponse.Status(code: refusal.status), Self.failure(refusal.message))
            } catch {
                (status, body) = (.badRequest, Self.failure("the request body must be at most \(EnrolmentExchange.maxRequestBytes) bytes of JSON"))
            }
            return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: body)))
        }
    }

    private static func failure(_ message: String) -> Data {
        (try? JSONEncoder().encode(EnrolmentExchange.Failure(message: message))) ?? Data()
    }

    /// Port 9443 as a lifecycle service: stops accepting on graceful shutdown.
    func service() -> some Service { NodeControlListener(server: server, address: address, logger: logger) }
}

struct NodeControlListener: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let address: ListenAddress
    let logger: Logger

    func run() async throws {
        try await withGracefulShutdownHandler {
            async let serving: Void = server.serve()
            do {
                if let bound = try await server.listeningAddress {
                    logger.notice("serving node agents (gRPC, mutual TLS)", metadata: ["address": "\(bound)"])
                }
            } catch {
                // The transport never bound: `listeningAddress` only says so; `serve()` says why.
                var cause: any Error = error
                do { try await serving } catch let failure { cause = failure }
                throw ListenFailure(what: "node agents ([agents] listen)", address: "\(address)", underlying: cause)
            }
            try await serving
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }
}
