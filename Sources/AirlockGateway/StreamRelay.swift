import AsyncHTTPClient
import Hummingbird
import NIOCore
import Synchronization

/// Relays an engine's event stream to the client event by event, and bills it when it ends —
/// however it ends. The engine is always asked for usage; its usage chunk reaches the client
/// only if the client asked for it. If the engine breaks off, the client gets an OpenAI error
/// event; if the client leaves, the engine request is cancelled (its response body is dropped,
/// which makes the HTTP client close that connection) and what was generated so far is billed.
///
/// A class, so that a relay that never runs is still settled: Hummingbird writes the response
/// head before it calls the body, and when the client reset its connection while the engine was
/// still on its first token that write throws and the body is never called. The relay is then
/// released unrun, and `deinit` bills what the engine had sent, frees the node's in-flight slot
/// and the admission ticket, and records the request's one outcome.
final class StreamRelay: Sendable {
    let billing: Billing
    let upstream: EngineStream
    private let started = Atomic<Bool>(false)

    init(billing: Billing, upstream: EngineStream) {
        self.billing = billing
        self.upstream = upstream
    }

    private enum Ending { case complete, engineFailed, clientGone }

    func run(into writer: inout any ResponseBodyWriter) async {
        guard !started.exchange(true, ordering: .relaxed) else { return }
        await onLoop(billing.call.loop) { await relay(into: &writer) }
    }

    deinit {
        guard !started.load(ordering: .relaxed) else { return }
        var accounting = billing.accounting()
        var splitter = ServerSentEventSplitter()
        if let first = upstream.takeFirst(), let events = try? splitter.feed(first) {
            for event in events { _ = accounting.observe(ServerSentEvent.data(of: event)) }
        }
        settle(.clientGone, accounting, billing)
    }

    private func relay(into writer: inout any ResponseBodyWriter) async {
        var billing = billing
        var accounting = billing.accounting()
        var splitter = ServerSentEventSplitter()
        var ending = Ending.complete
        // A stream may outlast its admission lease. Renewed at the first chunk a quarter-lease
        // after the last renewal, it lapses only if the engine is silent for three quarters of
        // a lease, which `read_timeout_seconds` never allows (`admissionLeaseMillis`).
        let renewal = Duration.milliseconds(billing.gateway.deps.admission.leaseMillis / 4)
        var renewed = ContinuousClock.now
        relay: while true {
            let chunk: ByteBuffer?
            do {
                chunk = try await upstream.next()
            } catch {
                ending = Task.isCancelled ? .clientGone : .engineFailed
                break
            }
            guard let chunk else { break }
            if ContinuousClock.now - renewed > renewal {
                billing.ticket = billing.gateway.renew(billing.ticket)
                renewed = .now
            }
            guard let events = try? splitter.feed(chunk) else {
                ending = .engineFailed
                break
            }
            for event in events {
                let forward = accounting.observe(ServerSentEvent.data(of: event))
                do {
                    switch forward {
                    case .pass: try await writer.write(event)
                    case .drop: continue
                    case let .replace(replacement): try await writer.write(replacement)
                    }
                } catch {
                    ending = .clientGone
                    break relay
                }
            }
        }
        if ending == .complete, !accounting.sawDone, !accounting.sawError { ending = .engineFailed }
        if ending == .engineFailed {
            try? await writer.write(ServerSentEvent.event(data: OpenAIError.engineFailed.body))
        }
        if ending != .clientGone { try? await writer.finish(nil) }
        settle(ending, accounting, billing)
    }

    /// Frees the node's slot, bills what was generated and records the outcome: once per relay.
    private func settle(_ ending: Ending, _ accounting: StreamAccounting, _ billing: Billing) {
        billing.engine.finished()
        let usage = accounting.billedUsage(promptEstimate: billing.inference.promptTokenEstimate)
        let reason: String? = switch ending {
        case .complete: accounting.finishReason
        case .engineFailed: accounting.finishReason ?? "engine_error"
        case .clientGone: accounting.finishReason ?? "client_disconnected"
        }
        billing.bill(usage, finishReason: reason)
        billing.gateway.record(billing.call, ending == .complete ? .served : .interrupted, status: 200,
                               detail: ending == .complete ? nil : reason)
    }
}

/// An engine's event stream once its first bytes are in: what failover waited for.
/// `@unchecked`: the iterator (not Sendable, as it must have one consumer) is handed once from
/// the task that read the first chunk to the response writer, which alone reads on; nothing
/// touches it concurrently.
final class EngineStream: @unchecked Sendable {
    private var first: ByteBuffer?
    private var rest: HTTPClientResponse.Body.AsyncIterator

    init(first: ByteBuffer, rest: HTTPClientResponse.Body.AsyncIterator) {
        self.first = first
        self.rest = rest
    }

    /// The chunk read while failing over, then the engine's next ones; nil at the end.
    func next() async throws -> ByteBuffer? {
        if let chunk = takeFirst() { return chunk }
        return try await rest.next()
    }

    /// The chunk read while failing over, if nobody took it yet.
    func takeFirst() -> ByteBuffer? {
        defer { first = nil }
        return first
    }

    /// The engine closed the stream before sending anything.
    struct EndedEmpty: Error, CustomStringConvertible {
        var description: String { "the stream ended before its first byte" }
    }
}
