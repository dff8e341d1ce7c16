import AirlockCore
import AirlockGateway
import AirlockLicensing
import AirlockMetrics
import Foundation
import Hummingbird
import Logging

/// `GET /metrics` on the API port (issue H, docs/OPERATIONS.md § Metrics and logs): the
/// swift-metrics backend bootstrapped for the whole process, and the route that renders it —
/// plus the nodes, ledger and licence read at that moment — for a scrape carrying the token.
enum MetricsEndpoint {
    static func add<Context: RequestContext>(to router: Router<Context>, _ config: AirlockConfig, nodes: NodePlane,
                                             recorder: UsageRecorder, license: LicenseWatch, logger: Logger) throws {
        guard config.metrics.enabled else {
            logger.notice("metrics off: [metrics] enabled = false")
            return
        }
        let token = try ScrapeToken.load(config.metrics, dataDirectory: config.dataDir)
        let registry = nodes.registry
        let ledger = recorder.appender
        let exposition = MetricsExposition(
            labels: LabelGuard(servedModels: { registry.placement.models }),
            readings: ScrapeReadings(nodes: registry, ledger: { (ledger.committedRows, ledger.committedBatches) },
                                     license: { license.status.map(\.metricsReading) }))
        exposition.bootstrap()
        router.get("/metrics") { request, _ in
            guard token.accepts(request.headers[values: .authorization]) else {
                logger.info("metrics scrape refused: no or wrong scrape token")
                return Response(status: .unauthorized, headers: [.contentType: "text/plain; charset=utf-8", .wwwAuthenticate: "Bearer"],
                                body: .init(byteBuffer: ByteBuffer(string: "/metrics needs the scrape token: Authorization: Bearer <token>\n")))
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: exposition.render())))
        }
        logger.notice("metrics on /metrics", metadata: [
            "token_file": "\(config.metrics.scrapeTokenFile ?? ScrapeToken.path(dataDirectory: config.dataDir))"])
    }
}

extension LicenseStatus {
    /// Seconds left until inference stops, from the same judgement the request path uses.
    var metricsReading: LicenseReading {
        let now = Int64(Date().timeIntervalSince1970)
        let end: Int64? = switch state {
        case .active: expiresAt
        case .grace: graceEndsAt
        case .expired: now
        case .evaluation, .notYetValid, .invalid: nil
        }
        return LicenseReading(state: state.rawValue, remainingSeconds: end.map { $0 - now })
    }
}
