import AirlockTestSupport
import NIOCore
import Testing

@testable import AirlockGateway

@Suite("Streams: event splitting and usage accounting")
struct StreamAccountingTests {
    @Test("events are whole whatever the chunking, with LF or CRLF blank lines")
    func splitting() throws {
        let wire = "data: {\"a\":1}\n\ndata: [DONE]\r\n\r\n"
        for size in 1...wire.utf8.count {
            var splitter = ServerSentEventSplitter()
            var events: [String] = []
            var bytes = ByteBuffer(string: wire)
            while bytes.readableBytes > 0 {
                let chunk = bytes.readSlice(length: min(size, bytes.readableBytes))!
                events += try splitter.feed(chunk).map { String(buffer: $0) }
            }
            #expect(events == ["data: {\"a\":1}\n\n", "data: [DONE]\r\n\r\n"])
            #expect(splitter.remainder == 0)
        }
        func data(_ event: String) -> String? { ServerSentEvent.data(of: ByteBuffer(string: event)).map { String(buffer: $0) } }
        #expect(data("event: x\ndata: a\ndata: b\n\n") == "a\nb")
        #expect(data(": comment\n\n") == nil)
        #expect(data("data:[DONE]\r\n\r\n") == "[DONE]")
        #expect(data("data: one\rdata:  two\r\ndata:\n\n") == "one\n two\n")
        #expect(data("id: 1\ndata: {\"a\":\"data: b\"}\n\n") == #"{"a":"data: b"}"#)
    }

    @Test("an endless event is an engine fault, not unbounded memory")
    func oversized() {
        var splitter = ServerSentEventSplitter()
        let big = ByteBuffer(repeating: UInt8(ascii: "x"), count: ServerSentEventSplitter.maxEventBytes + 1)
        #expect(throws: ServerSentEventSplitter.Oversized.self) { try splitter.feed(big) }
    }

    private let chunk = #"{"choices":[{"index":0,"delta":{"content":"hi "},"finish_reason":null}]}"#
    private let last = #"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#
    private let usage = #"{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}"#

    /// Chunks as `StreamRelay` hands them over: an event's data as bytes.
    private func observe(_ accounting: inout StreamAccounting, _ payload: String?) -> Bool {
        accounting.observe(payload.map { ByteBuffer(string: $0) }) != .drop
    }

    @Test("the usage chunk is billed and hidden unless the client asked for it")
    func usageChunk() {
        for wants in [false, true] {
            var accounting = StreamAccounting(clientWantsUsage: wants)
            let forwarded = [chunk, chunk, last, usage, "[DONE]"].map { observe(&accounting, $0) }
            #expect(forwarded == [true, true, true, wants, true])
            #expect(accounting.sawDone && accounting.finishReason == "stop")
            #expect(accounting.billedUsage(promptEstimate: 99) == TokenUsage(promptTokens: 4, completionTokens: 2, estimated: false))
        }
    }

    @Test("a stream that ends without usage is billed for the chunks seen, marked estimated")
    func estimated() {
        var accounting = StreamAccounting(clientWantsUsage: false)
        for _ in 0..<3 { _ = observe(&accounting, chunk) }
        _ = observe(&accounting, "not json")
        _ = observe(&accounting, nil)
        #expect(accounting.billedUsage(promptEstimate: 10) == TokenUsage(promptTokens: 10, completionTokens: 3, estimated: true))
    }

    @Test("a usage object with negative or non-integer counts is ignored")
    func insaneUsage() {
        var accounting = StreamAccounting(clientWantsUsage: false)
        _ = observe(&accounting, #"{"choices":[],"usage":{"prompt_tokens":-1,"completion_tokens":2}}"#)
        _ = observe(&accounting, #"{"choices":[],"usage":{"prompt_tokens":"4","completion_tokens":2}}"#)
        #expect(accounting.billedUsage(promptEstimate: 1).estimated)
    }

    @Test("engine replies are read leniently: odd shapes read as absent, never as numbers")
    func lenientReplies() throws {
        let whole = try #require(EngineReply.decode(#"{"usage":{"prompt_tokens":16.0,"completion_tokens":2},"choices":[{"message":{"content":"héllo"},"finish_reason":"stop"}]}"#))
        #expect(TokenUsage.reported(in: whole) == TokenUsage(promptTokens: 16, completionTokens: 2, estimated: false))
        #expect(whole.textBytes == 6 && whole.choices.first?.finishReason == "stop")
        for odd in [#"{"usage":{"prompt_tokens":true}}"#, #"{"usage":{"prompt_tokens":1.5}}"#, #"{"usage":"many"}"#, #"{"usage":null}"#] {
            let reply = try #require(EngineReply.decode(odd))
            #expect(TokenUsage.reported(in: reply) == nil, "\(odd)")
        }
        // Content as an array of parts, a tool call without content, an error object, not an object.
        let parts = try #require(EngineReply.decode(#"{"choices":[{"message":{"content":[{"type":"text","text":"x"}]},"finish_reason":7}]}"#))
        #expect(parts.choices.count == 1 && parts.choices[0].text == nil && parts.choices[0].finishReason == nil)
        let tools = try #require(EngineReply.decode(#"{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}"#))
        #expect(tools.choices[0].hasToolCalls)
        #expect(EngineReply.decode(#"{"error":{"message":"x"}}"#)?.isError == true)
        #expect(EngineReply.decode(#"{"error":{"message":"x"}}"#)?.errorMessage == "x")
        #expect(EngineReply.decode(#"{"error":"flat"}"#)?.errorMessage == nil)
        #expect(EngineReply.decode("[1,2]") == nil && EngineReply.decode("") == nil)
        // An embeddings reply: the vectors are skipped, the usage read.
        let embedding = try #require(EngineReply.decode(ByteBuffer(string: #"{"data":[{"embedding":[0.1,-2e-3,3]}],"usage":{"prompt_tokens":3,"total_tokens":3}}"#)))
        #expect(TokenUsage.reported(in: embedding) == TokenUsage(promptTokens: 3, completionTokens: 0, estimated: false))
    }

    @Test("mangled streams never crash and never bill negative or overflowing usage")
    func mangledStreams() throws {
        let wire = Array(("data: " + chunk + "\n\ndata: " + last + "\r\n\r\ndata: " + usage + "\n\n: keep-alive\n\ndata: [DONE]\n\n").utf8)
        let alphabet = Array(#"{}[]",:.-+e0123456789 ultrfasd\"#.utf8) + Array("\r\n\n".utf8)
        var generator = SplitMix64(seed: 0x5EE_5EE)  // seeded: a failing stream is the same on every run
        for _ in 0..<3000 {
            let bytes = generator.mangle(wire, alphabet: alphabet, edits: 4)
            var splitter = ServerSentEventSplitter()
            var accounting = StreamAccounting(clientWantsUsage: Bool.random(using: &generator))
            var rest = ByteBuffer(bytes: bytes)
            while rest.readableBytes > 0 {
                let chunk = rest.readSlice(length: min(Int.random(in: 1...64, using: &generator), rest.readableBytes))!
                for event in try splitter.feed(chunk) { _ = accounting.observe(ServerSentEvent.data(of: event)) }
            }
            let billed = accounting.billedUsage(promptEstimate: 7)
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(billed.promptTokens >= 0 && billed.completionTokens >= 0 && billed.totalTokens < 18_000_000_000_000_000, "\(text)")
        }
    }
}
