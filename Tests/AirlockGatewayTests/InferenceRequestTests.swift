import AirlockTestSupport
import Foundation
import NIOCore
import Testing

@testable import AirlockGateway

@Suite("Inference request validation")
struct InferenceRequestTests {
    private func parse(_ json: String) throws(OpenAIError) -> InferenceRequest {
        try parse(.chat, json)
    }

    private func parse(_ kind: InferenceKind, _ json: String) throws(OpenAIError) -> InferenceRequest {
        try InferenceRequest.parse(kind, body: ByteBuffer(string: json), defaultMaxTokens: 256)
    }

    private func upstream(_ request: InferenceRequest) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: request.upstreamBody))) as? [String: Any] ?? [:]
    }

    @Test("a plain chat request is forwarded byte for byte")
    func passthrough() throws {
        let body = #"{"model":"m","messages":[{"role":"user","content":"hello there"}],"max_tokens":5,"seed":7}"#
        let request = try parse(body)
        #expect(String(buffer: request.upstreamBody) == body)
        #expect(request.maxTokens == 5 && !request.stream && request.model == "m")
        // "hello there" and one message's framing: 27 bytes → 7 tokens, plus the reply primer (3).
        #expect(request.promptTokenEstimate == 10)
    }

    @Test("streaming always asks the engine for usage, and remembers whether the client did")
    func streamUsage() throws {
        let quiet = try parse(#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}"#)
        #expect(!quiet.clientWantsUsage)
        #expect((upstream(quiet)["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        let asked = try parse(#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":false}}"#)
        #expect(asked.clientWantsUsage)
        #expect((upstream(asked)["stream_options"] as? [String: Any])?["continuous_usage_stats"] as? Bool == false)
    }

    @Test("a request without max_tokens is capped upstream; n multiplies the charge")
    func defaultCap() throws {
        let request = try parse(#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":3}"#)
        #expect(upstream(request)["max_tokens"] as? Int == 256)
        #expect(request.maxTokens == 768)
    }

    @Test("completions and embeddings accept strings, string arrays and token ids")
    func inputs() throws {
        #expect(try parse(.completion, #"{"model":"m","prompt":["a","b"]}"#).maxTokens == 256)
        #expect(try parse(.completion, #"{"model":"m","prompt":[1,2,3]}"#).promptTokenEstimate == 3)
        let embedding = try parse(.embedding, #"{"model":"m","input":[[1,2],[3]]}"#)
        #expect(embedding.maxTokens == 0)
    }

    @Test("hostile bodies are refused with the parameter named", arguments: [
        ("", nil), ("{", nil), ("[1]", nil), ("null", nil),
        (#"{"messages":[{"role":"user","content":"x"}]}"#, "model"),
        (#"{"model":"","messages":[{"role":"user","content":"x"}]}"#, "model"),
        (#"{"model":7,"messages":[{"role":"user","content":"x"}]}"#, "model"),
        (#"{"model":"m","messages":[]}"#, "messages"),
        (#"{"model":"m","messages":[1]}"#, "messages[0]"),
        (#"{"model":"m","messages":[{"role":"root","content":"x"}]}"#, "messages[0].role"),
        (#"{"model":"m","messages":[{"role":"user"}]}"#, "messages[0].content"),
        (#"{"model":"m","messages":[{"role":"user","content":5}]}"#, "messages[0].content"),
        (#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#, "stream"),
        (#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":1}"#, "stream"),
        (#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":true}"#, "max_tokens"),
        (#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1.5}"#, "max_tokens"),
        (#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}"#, "max_tokens"),
        (#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":100}"#, "n"),
        (#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#, "temperature"),
        (#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}"#, "stream_options"),
    ] as [(String, String?)])
    func hostile(body: String, param: String?) {
        #expect(throws: OpenAIError.self) { try parse(body) }
        do throws(OpenAIError) {
            _ = try parse(body)
        } catch {
            #expect(error.status == .badRequest)
            #expect(error.param == param)
            #expect(error.type == "invalid_request_error")
        }
    }

    @Test("mangled bodies never crash: each is refused with a 400 or yields a sane upstream request")
    func mangled() throws {
        let seeds: [(InferenceKind, String)] = [
            (.chat, #"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":8,"n":2,"temperature":0.5}"#),
            (.chat, #"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":false}}"#),
            (.completion, #"{"model":"m","prompt":[[1,2],[3]],"max_completion_tokens":4,"top_p":1e-1}"#),
            (.embedding, #"{"model":"m","input":["a","b"],"encoding_format":"float"}"#),
        ]
        let alphabet = Array(#"{}[]",:.-+eE0123456789 ultrfas\"#.utf8) + [UInt8(ascii: "\n")]
        var generator = SplitMix64(seed: 0x1A_4B_2C)  // seeded: a failing body is the same on every run
        var verdicts = (served: 0, refused: 0)
        for (kind, seed) in seeds {
            for _ in 0..<1500 {
                let bytes = generator.mangle(Array(seed.utf8), alphabet: alphabet)
                let text = String(decoding: bytes, as: UTF8.self)
                do throws(OpenAIError) {
                    let request = try InferenceRequest.parse(kind, body: ByteBuffer(bytes: bytes), defaultMaxTokens: 256)
                    verdicts.served += 1
                    let upstream = upstream(request)
                    #expect(!upstream.isEmpty && !request.model.isEmpty, "\(text)")
                    #expect(request.maxTokens >= 0 && request.promptTokenEstimate >= 0, "\(text)")
                    if kind != .embedding { #expect(request.maxTokens > 0 && request.maxTokens <= 16 * Int64(Int32.max), "\(text)") }
                    if request.stream {
                        #expect((upstream["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true, "\(text)")
                    }
                } catch {
                    verdicts.refused += 1
                    #expect(error.status == .badRequest && error.type == "invalid_request_error", "\(text)")
                }
            }
        }
        #expect(verdicts.served > 500 && verdicts.refused > 500, "\(verdicts)")
    }

    @Test("embeddings cannot be streamed; empty prompts are refused")
    func kindRules() {
        #expect(throws: OpenAIError.self) { try parse(.embedding, #"{"model":"m","input":"x","stream":true}"#) }
        #expect(throws: OpenAIError.self) { try parse(.completion, #"{"model":"m","prompt":""}"#) }
        #expect(throws: OpenAIError.self) { try parse(.embedding, #"{"model":"m","input":[{"a":1}]}"#) }
    }
}
