import HTTPTypes
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

@testable import AirlockGateway

/// ``RequestReadDeadline`` on an embedded channel, whose clock only moves when told: a request
/// is measured from its head to its end, whatever arrives in between.
@Suite("The request read deadline")
struct RequestReadDeadlineTests {
    /// Records the errors that reach the end of the pipeline (where the request body's stream is).
    final class ErrorRecorder: ChannelInboundHandler {
        typealias InboundIn = HTTPRequestPart
        var errors: [any Error] = []
        func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append(error) }
    }

    private func channel() throws -> (EmbeddedChannel, ErrorRecorder) {
        let recorder = ErrorRecorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([RequestReadDeadline(seconds: 10, logger: Logger(label: "test")), recorder])
        return (channel, recorder)
    }

    private let head = HTTPRequestPart.head(HTTPRequest(method: .post, scheme: "https", authority: "x", path: "/v1/chat/completions"))

    @Test("a body still arriving when the deadline passes fails the request's stream")
    func trickledBodyTimesOut() throws {
        let (channel, recorder) = try channel()
        try channel.writeInbound(head)
        // A byte every 3 s: each one would restart an idle timer, not this deadline.
        for _ in 0..<3 {
            channel.embeddedEventLoop.advanceTime(by: .seconds(3))
            try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "x")))
        }
        #expect(recorder.errors.isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(recorder.errors.count == 1)
        #expect(recorder.errors.first as? RequestReadTimeout == RequestReadTimeout(seconds: 10))
        _ = try? channel.finish()
    }

    @Test("a request that ends in time is never failed, and the next one gets a deadline of its own")
    func eachRequestHasItsOwnDeadline() throws {
        let (channel, recorder) = try channel()
        try channel.writeInbound(head)
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(recorder.errors.isEmpty)
        try channel.writeInbound(head)
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(recorder.errors.isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(recorder.errors.count == 1)
        _ = try? channel.finish()
    }

    @Test("a connection closed mid-request leaves no timer behind")
    func closedConnectionCancelsTheTimer() throws {
        let (channel, recorder) = try channel()
        try channel.writeInbound(head)
        try channel.close().wait()
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(recorder.errors.isEmpty)
    }
}
