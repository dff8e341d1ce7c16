import NIOCore
import Testing

@testable import AirlockGateway

/// What of an engine's error message reaches a client (seed 004 § 13.1).
@Suite("Engine messages for clients")
struct EngineMessageTests {
    @Test("paths, URLs and addresses are replaced; the reason stays", arguments: [
        ("The model `/models/llama-3-8b` does not exist.", "The model `<path>` does not exist."),
        ("Failed to load LoRA adapter from /mnt/adapters/acme/v3: not found", "Failed to load LoRA adapter from <path>: not found"),
        ("upstream http://10.0.3.7:8000/v1/chat/completions timed out", "upstream <url> timed out"),
        ("cannot reach 10.0.0.7, tried 10.0.0.8:8001.", "cannot reach <address>, tried <address>."),
        ("gpu-07.dc1.bank.internal:8000 refused; localhost:9000 too", "<address> refused; <address> too"),
        ("bound to fe80::1 and [2001:db8:0:0:0:0:2:1]:8000", "bound to <address> and [<address>]:8000"),
        ("tokenizer at ~/hf/tokenizer.json is broken", "tokenizer at <path> is broken"),
        ("path='/var/lib/vllm/cache'", "path='<path>'"),
    ])
    func scrubbed(message: String, expected: String) {
        #expect(EngineMessage.scrubbed(message) == expected)
    }

    @Test("ordinary messages, model names with a slash and times are left alone", arguments: [
        "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (1000 in the messages, 4000 in the completion). Please reduce the length.",
        "meta-llama/Llama-3.1-8B-Instruct does not support tools",
        "temperature must be in [0, 2], got 3.5",
        "retry at 12:30:45 or after 1/2 of the queue drains",
        "Error:404 version 1.2.3",
        "",
    ])
    func untouched(message: String) {
        #expect(EngineMessage.scrubbed(message) == message)
    }

    @Test("the answering engine's own names are hidden: node name and id, URL host and its short name")
    func engineNames() {
        let names = EngineMessage.names(node: "gpu07", id: "node-3f9a", url: "http://gpu07.dc1.bank.internal:8000/v1", model: "llama-3")
        #expect(names == ["gpu07", "node-3f9a", "gpu07.dc1.bank.internal"])
        let message = "engine gpu07 (node-3f9a) overloaded; GPU07:8000 queue full, see Gpu07.dc1.bank.internal. Model llama-3 is busy."
        #expect(EngineMessage.scrubbed(message, hiding: names)
            == "engine <address> (<address>) overloaded; <address> queue full, see <address>. Model llama-3 is busy.")
        // Without the names the bare host name is an ordinary word.
        #expect(EngineMessage.scrubbed("engine gpu07 overloaded") == "engine gpu07 overloaded")
        // The model's name is never hidden (a static engine is often named for it), nor are
        // short words, nor an IP address's first number.
        #expect(EngineMessage.names(node: "llama-3", id: "ab", url: "http://10.0.0.5:8000", model: "Llama-3") == ["10.0.0.5"])
        #expect(EngineMessage.scrubbed("retry in 10 s; 192 tokens", hiding: EngineMessage.names(
            node: "sim", id: "sim", url: "http://192.168.1.5", model: "m")) == "retry in 10 s; 192 tokens")
        #expect(EngineMessage.names(node: "a", id: "a", url: "https://user@[fd00::7]:8443/v1", model: "m") == ["fd00::7"])
        #expect(OpenAIError.engineRejected("gpu07 says no", hiding: names).message == "The engine rejected the request: <address> says no")
    }

    @Test("vLLM's older error shape is read as an error with its message")
    func olderVLLMShape() throws {
        let body = #"{"object":"error","message":"too long at /srv/models/x","type":"BadRequestError","param":null,"code":400}"#
        let reply = try #require(EngineReply.decode(ByteBuffer(string: body)))
        #expect(reply.isError && reply.errorMessage == "too long at /srv/models/x")
        let error = OpenAIError.engineRejected(reply.errorMessage)
        #expect(error.status == .badRequest && error.message == "The engine rejected the request: too long at <path>")
        // The OpenAI shape still wins when both are there; a chat completion is no error.
        let both = #"{"object":"error","message":"outer","error":{"message":"inner"}}"#
        #expect(EngineReply.decode(ByteBuffer(string: both))?.errorMessage == "inner")
        #expect(EngineReply.decode(ByteBuffer(string: #"{"object":"chat.completion","choices":[]}"#))?.isError == false)
    }

    @Test("an error event mid-stream is replaced by Airlock's, with the reason scrubbed")
    func midStreamError() throws {
        var accounting = StreamAccounting(clientWantsUsage: false, engineNames: ["gpu07"])
        let event = #"{"error":{"message":"CUDA out of memory on 10.1.2.3 (gpu07) writing /tmp/vllm/dump","type":"InternalServerError","code":500}}"#
        guard case let .replace(replacement) = accounting.observe(ByteBuffer(string: event)) else {
            Issue.record("the error event was passed on as the engine wrote it")
            return
        }
        let text = String(buffer: replacement)
        #expect(text.hasPrefix("data: {\"error\":{") && text.hasSuffix("}}\n\n"))
        #expect(text.contains("The inference engine failed: CUDA out of memory on <address> (<address>) writing <path>"))
        #expect(text.contains(#""code":"engine_error""#))
        #expect(accounting.sawError)
    }
}
