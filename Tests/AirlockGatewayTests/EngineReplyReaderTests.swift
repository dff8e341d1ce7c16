import Foundation
import NIOCore
import AirlockTestSupport
import Testing

@testable import AirlockGateway

/// `JSONReader` replaced Foundation's `JSONDecoder` for engine replies and stream chunks, so it
/// is checked here against the JSON grammar (with `JSONSerialization` as the referee on mangled
/// input) and against hostile engines: huge numbers, deep nesting, broken escapes.
@Suite("Engine replies: the JSON reader")
struct EngineReplyReaderTests {
    private func isReply(_ text: String) -> Bool { EngineReply.decode(text) != nil }

    @Test("well-formed objects are replies, whatever the spacing and nesting")
    func wellFormed() {
        for text in [
            "{}", " {\n\t} \r\n", #"{"a":[]}"#, #"{"a":[1,-0,0.5,-2e-3,1E+9,3e0,true,false,null,"x",{"b":{}}]}"#,
            #"{"s":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}"#, #"{"":0}"#, "{\"a\" : 1 , \"b\" : [ ] }",
        ] {
            #expect(isReply(text), "\(text)")
        }
    }

    @Test("anything outside the grammar is no reply at all")
    func malformed() {
        for text in [
            "", " ", "[1,2]", #""x""#, "1", "null", "{", "}", #"{"a"}"#, #"{"a":}"#, #"{"a":1,}"#, #"{"a":[1,]}"#, #"{,"a":1}"#,
            #"{"a" 1}"#, #"{a:1}"#, #"{'a':1}"#, #"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#, #"{"a":-}"#, #"{"a":1e}"#,
            #"{"a":1e+}"#, #"{"a":+1}"#, #"{"a":tru}"#, #"{"a":True}"#, #"{"a":nul}"#, #"{"a":"x}"#, #"{"a":"\x"}"#,
            #"{"a":"\u12"}"#, #"{"a":"\u12G4"}"#, "{\"a\":\"tab\there\"}", "{} x", "{}{}", #"{"a":NaN}"#, #"{"a":Infinity}"#,
            #"{"a":[1 2]}"#, #"{"a":1 "b":2}"#,
        ] {
            #expect(!isReply(text), "\(text)")
        }
    }

    @Test("mangled replies are judged as JSONSerialization judges them, and never crash")
    func mangled() {
        let seeds = [
            #"{"id":"c-1","choices":[{"index":0,"message":{"role":"assistant","content":"h\u00e9 \"there\""},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3.0}}"#,
            #"{"data":[{"embedding":[0.25,-1e-3,3,[]],"index":0}],"usage":{"prompt_tokens":3,"total_tokens":3},"error":null}"#,
        ]
        let alphabet = Array(#"{}[]",:.-+eE0123456789 nultrfas\"#.utf8) + [UInt8(ascii: "\t")]
        var verdicts: [Bool: Int] = [:]
        var generator = SplitMix64(seed: 0xA1A2_0C0C)  // seeded: a failing reply is the same on every run
        for seed in seeds {
            for _ in 0..<4000 {
                let bytes = generator.mangle(Array(seed.utf8), alphabet: alphabet)
                let referee = (try? JSONSerialization.jsonObject(with: Data(bytes))) is [String: Any]
                let ours = EngineReply.decode(ByteBuffer(bytes: bytes)) != nil
                #expect(ours == referee, "\(String(decoding: bytes, as: UTF8.self))")
                verdicts[referee, default: 0] += 1
            }
        }
        // Both verdicts are common, or the comparison proves little.
        #expect(verdicts[true, default: 0] > 1000 && verdicts[false, default: 0] > 1000, "\(verdicts)")
    }

    @Test("nesting deeper than the limit is malformed, not a stack overflow")
    func deepNesting() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(!isReply(#"{"x":"# + deep))
        let limit = JSONReader.maxDepth - 1  // the reply object itself is one level
        #expect(isReply(#"{"x":"# + String(repeating: "[", count: limit) + String(repeating: "]", count: limit) + "}"))
        #expect(!isReply(#"{"x":"# + String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1) + "}"))
    }

    @Test("token counts: whole numbers below 9e15 only, so no sum of them can overflow")
    func tokenCounts() throws {
        func prompt(_ literal: String) -> Int64? {
            EngineReply.decode(#"{"usage":{"prompt_tokens":"# + literal + "}}")?.usage?.promptTokens
        }
        #expect(prompt("16") == 16 && prompt("16.0") == 16 && prompt("1.6e1") == 16 && prompt("-0") == 0 && prompt("-3") == -3)
        #expect(prompt("8999999999999999") == 8_999_999_999_999_999)
        for huge in ["9000000000000000", "9223372036854775807", "99999999999999999999", "9e18", "1e400", "-9e15"] {
            #expect(prompt(huge) == nil, "\(huge)")
        }
        // An engine reporting absurd counts is estimated, not a crash in `totalTokens`.
        let absurd = try #require(EngineReply.decode(#"{"usage":{"prompt_tokens":9e18,"completion_tokens":9223372036854775807}}"#))
        #expect(TokenUsage.reported(in: absurd) == nil)
    }

    @Test("strings: escapes resolved, surrogate pairs joined, a lone surrogate reads as absent")
    func strings() throws {
        func content(_ literal: String) -> EngineReply.Choice? {
            EngineReply.decode(#"{"choices":[{"message":{"content":"# + literal + #"},"finish_reason":"stop"}]}"#)?.choices.first
        }
        #expect(content(#""h\u00e9llo""#)?.text == "héllo")
        #expect(content(#""\uD83D\uDE00!""#)?.text == "😀!")
        #expect(content(#""a\"b\\c\/d\n""#)?.text == "a\"b\\c/d\n")
        for lone in [#""\uD83D""#, #""\uDE00x""#, #""\uD83Dx\uDE00""#] {
            let choice = try #require(content(lone), "\(lone)")
            #expect(choice.text == nil && choice.finishReason == "stop", "\(lone)")
        }
        // Raw bytes that are not UTF-8 in a string Airlock reads: absent, the reply still read.
        var bytes = ByteBuffer(string: #"{"choices":[{"text":""#)
        bytes.writeBytes([0xFF, 0xFE])
        bytes.writeString(#"","finish_reason":"length"}]}"#)
        let reply = try #require(EngineReply.decode(bytes))
        #expect(reply.choices.first?.text == nil && reply.choices.first?.finishReason == "length")
    }

    @Test("shapes: escaped keys match, choices must all be objects, any error member is an error")
    func shapes() throws {
        let escaped = try #require(EngineReply.decode(#"{"usage":{"prompt\u005ftokens":5}}"#))
        #expect(escaped.usage?.promptTokens == 5)
        #expect(EngineReply.decode(#"{"choices":[{"text":"a"},7]}"#)?.choices.isEmpty == true)
        #expect(EngineReply.decode(#"{"choices":{"text":"a"}}"#)?.choices.isEmpty == true)
        #expect(EngineReply.decode(#"{"choices":[{"message":{"content":null},"delta":{"content":"d"},"text":"t"}]}"#)?.choices.first?.text == "d")
        #expect(EngineReply.decode(#"{"choices":[{"message":{"tool_calls":null}}]}"#)?.choices.first?.hasToolCalls == false)
        #expect(EngineReply.decode(#"{"error":null}"#)?.isError == true)
        #expect(EngineReply.decode(#"{"error":{"message":["x"]}}"#)?.errorMessage == nil)
    }
}

extension EngineReply {
    /// The reply in `text`, as the gateway reads an engine's bytes.
    static func decode(_ text: String) -> EngineReply? { decode(ByteBuffer(string: text)) }
}
