import AirlockAdmission
import AirlockCore
import AirlockIdentity
import AirlockScheduler
import AsyncHTTPClient
import Hummingbird
import NIOCore

extension Gateway {
    /// Largest engine response body Airlock buffers for a non-streamed request.
    static let maxResponseBytes = 64 * 1024 * 1024
    /// Most of an engine's error body Airlock reads (for the message it relays on a 4xx).
    static let maxErrorBytes = 1024 * 1024

    /// Sends an admitted request to an engine and answers the client. The ticket is settled on
    /// every path: with the billed tokens when served, with nothing when the engine failed.
    func proxy(_ call: CallContext, identity: KeyIdentity, inference: InferenceRequest, ticket: AdmissionTicket) async -> Response {
        let upstream: Upstream
        do {
            // A stream is sent from its client's loop: async-http-client then prefers an engine
            // connection on that loop, so the relay's tokens arrive where they are written.
            upstream = try await onLoop(inference.stream ? call.loop : nil) { () async throws(OpenAIError) -> Upstream in
                try await send(inference, identity: identity, ticket: ticket, requestID: call.requestID)
            }
        } catch {
            return fail(call, ticket, error)
        }
        let engine = upstream.node
        var headers = call.headers
        RateLimitHeaders.add(ticket.rateLimits, to: &headers)
        let billing = Billing(gateway: self, call: call, identity: identity, inference: inference, ticket: ticket, engine: engine,
                              failover: upstream.failover)
        switch upstream.body {
        case let .stream(stream):
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-cache"
            let relay = StreamRelay(billing: billing, upstream: stream)
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in await relay.run(into: &writer) })
        case let .complete(bytes):
            engine.finished()
            let reply = EngineReply.decode(bytes)
            let usage = reply.flatMap(TokenUsage.reported) ?? Self.estimate(reply, inference)
            billing.bill(usage, finishReason: reply?.choices.first?.finishReason)
            record(call, .served, status: 200)
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
        }
    }

    /// An admitted request that no engine served: nothing billed, slots freed, an error answered.
    private func fail(_ call: CallContext, _ ticket: AdmissionTicket, _ error: OpenAIError) -> Response {
        settle(ticket, tokens: 0)
        var error = error
        error.rateLimits = ticket.rateLimits
        return finish(call, error: error, outcome: error.status.code >= 500 ? .engineFailed : .refused)
    }

    /// The node that answered, what it sent, and whether an earlier node failed first.
    struct Upstream {
        var node: LiveNode
        var body: EngineBody
        var failover: Bool
    }

    /// What an engine had sent when Airlock committed to it: the whole body of a non-streamed
    /// answer, or a stream's first chunk with the rest still to come. Nothing reaches the client
    /// before this, so up to here an engine's failure can still fail over.
    enum EngineBody {
        case complete(ByteBuffer)
        case stream(EngineStream)
    }

    /// Tries the scheduler's nodes, best first (at most `max_attempts`, then fallback zones),
    /// until one answers with a 2xx response head and then its first body bytes (a stream) or
    /// its whole body (otherwise): an error, a 5xx, or a connection that ends before that fails
    /// over to the next — nothing reached the client yet (seed 004 § 26.4; engines such as vLLM
    /// send a stream's head at once and its first token only after prefill). A 4xx is the
    /// request's fault and is not retried. A node that already has `max_connections_per_engine`
    /// requests in flight is passed over without waiting; if that leaves no node to answer, the
    /// request is refused with 429 `server_overloaded`, which a client may retry. On return the
    /// chosen node counts this request as in flight until the caller calls `finished()`.
    private func send(_ inference: InferenceRequest, identity: KeyIdentity, ticket: AdmissionTicket,
                      requestID: String) async throws(OpenAIError) -> Upstream {
        let plan = deps.scheduler.plan(PlacementRequest(
            model: inference.model, orgID: identity.orgID, zone: identity.zone ?? deps.settings.zone, reserved: ticket.reserved,
            prefix: inference.prefix))
        GatewayMetrics.planned(plan, model: inference.model)
        if plan.overloaded { throw .overloaded }
        var failure = OpenAIError.noEngine
        var failed: LiveNode?
        var full = false
        for node in plan.nodes {
            guard node.tryStart(limit: deps.settings.maxConnectionsPerEngine) else {
                GatewayMetrics.passedOver(node, model: inference.model)
                full = true
                continue
            }
            if let failed { GatewayMetrics.failedOver(from: failed, model: inference.model) }
            let answer: EngineAnswer
            do {
                answer = try await call(node, inference, requestID: requestID)
            } catch {
                node.finished()
                deps.logger.warning("engine failed before its first byte, failing over", metadata: [
                    "node": "\(node.name)", "error": "\(error)"])
                (failure, failed) = (.engineFailed, node)
                continue
            }
            let status: Int
            let errorBody: ByteBuffer?
            switch answer {
            case let .served(body): return Upstream(node: node, body: body, failover: failed != nil)
            case let .refused(code, body): (status, errorBody) = (code, body)
            }
            node.finished()
            if status >= 500 {
                deps.logger.warning("engine failed, failing over", metadata: ["node": "\(node.name)", "status": "\(status)"])
                (failure, failed) = (.engineFailed, node)
                continue
            }
            // 404 means a mis-configured engine (it does not serve the model): our fault, not the
            // caller's. Any other 4xx is about the request, and so is the engine's message.
            guard status != 404 else { throw .engineFailed }
            throw .engineRejected(errorBody.flatMap(EngineReply.decode)?.errorMessage, hiding: node.names(model: inference.model))
        }
        // A full node would have taken the request a moment later, so a retry can succeed.
        throw full ? .overloaded : failure
    }

    /// What one engine answered: a 2xx with its body (whole, or a stream's first chunk), or
    /// another status with its error body (at most `maxErrorBytes` kept).
    private enum EngineAnswer {
        case served(EngineBody)
        case refused(status: Int, body: ByteBuffer?)
    }

    /// Sends the request to `node`. Throws if the engine could not be reached or ended before
    /// its first bytes (a stream) or its whole body (otherwise).
    private func call(_ node: LiveNode, _ inference: InferenceRequest, requestID: String) async throws -> EngineAnswer {
        guard inference.stream else {
            // A whole answer is collected on the connection's event loop (no task, no deadline
            // timer, no async body sequence per request): the cheaper of async-http-client's two
            // APIs, and there is nothing to relay until the body is complete anyway.
            let response = try await EngineClient.collect(deps.client, node, path: inference.kind.rawValue, body: inference.upstreamBody,
                                                          requestID: requestID,
                                                          upTo: Self.maxResponseBytes)
            let status = Int(response.status.code)
            guard (200..<300).contains(status) else {
                return .refused(status: status, body: response.body.flatMap { $0.readableBytes <= Self.maxErrorBytes ? $0 : nil })
            }
            return .served(.complete(response.body ?? ByteBuffer()))
        }
        let response = try await deps.client.execute(
            EngineClient.request(node, path: inference.kind.rawValue, body: inference.upstreamBody, requestID: requestID),
            deadline: .distantFuture)
        guard (200..<300).contains(response.status.code) else {
            return .refused(status: Int(response.status.code), body: try? await response.body.collect(upTo: Self.maxErrorBytes))
        }
        var rest = response.body.makeAsyncIterator()
        while let chunk = try await rest.next() {
            if chunk.readableBytes > 0 { return .served(.stream(EngineStream(first: chunk, rest: rest))) }
        }
        throw EngineStream.EndedEmpty()
    }

    private static func estimate(_ reply: EngineReply?, _ inference: InferenceRequest) -> TokenUsage {
        TokenUsage(promptTokens: inference.promptTokenEstimate,
                   completionTokens: TokenEstimate.tokens(forCharacters: reply?.textBytes ?? 0), estimated: true)
    }

    /// The ticket with its lease moved `leaseMillis` on (`Admission.renew`); unchanged if that
    /// fails, which only risks the slot coming back early.
    func renew(_ ticket: AdmissionTicket) -> AdmissionTicket {
        do {
            return try deps.admission.renew(ticket)
        } catch {
            deps.logger.error("could not renew an admission lease", metadata: ["error": "\(error)"])
            return ticket
        }
    }

    func settle(_ ticket: AdmissionTicket, tokens: Int64) {
        do {
            try deps.admission.settle(ticket, actualTokens: tokens)
        } catch {
            deps.logger.error("could not settle admission counters", metadata: ["error": "\(error)"])
        }
    }
}

/// Accounting for one served request: settles the admission ticket with the billed tokens and
/// hands the ledger row to the recorder. Called exactly once per served request.
struct Billing: Sendable {
    let gateway: Gateway
    let call: CallContext
    let identity: KeyIdentity
    let inference: InferenceRequest
    /// Renewed by a long stream's relay (its lease moves, see `StreamRelay`).
    var ticket: AdmissionTicket
    let engine: LiveNode
    /// The first node tried failed before the first byte and another served (seed 004 § 26.4).
    let failover: Bool

    /// A stream's accounting, which hides this engine's names in an error event (worked out
    /// only if one comes).
    func accounting() -> StreamAccounting {
        StreamAccounting(clientWantsUsage: inference.clientWantsUsage, engineNames: engine.names(model: inference.model))
    }

    func bill(_ usage: TokenUsage, finishReason: String?) {
        gateway.settle(ticket, tokens: usage.totalTokens)
        GatewayMetrics.billed(usage, model: inference.model)
        let now = gateway.deps.clock.now()
        gateway.deps.recorder.record(UsageRecord(
            usageID: UsageID.generate(at: now), requestID: call.requestID, timestamp: call.startedAt,
            orgID: identity.orgID, envID: identity.envID, keyID: identity.keyID, zone: engine.zone,
            model: inference.model, node: engine.name, promptTokens: usage.promptTokens,
            completionTokens: usage.completionTokens, latencyMillis: now.value - call.startedAt.value, costMicros: 0,
            streamed: inference.stream, finishReason: finishReason, tokenSource: usage.estimated ? .estimated : .engine,
            failover: failover))
        if failover {
            gateway.deps.logger.notice("request served after failover", metadata: [
                "request_id": "\(call.requestID)", "node": "\(engine.name)", "model": "\(inference.model)"])
        }
    }
}

extension LiveNode {
    /// The words an error message from this node's engine must not show a client.
    func names(model: String) -> Set<String> {
        EngineMessage.names(node: name, id: id, url: engineURL, model: model)
    }
}
