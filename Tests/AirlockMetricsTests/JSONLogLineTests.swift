import AirlockCore
import AirlockMetrics
import Foundation
import Testing

@Suite struct JSONLogLineTests {
    @Test func oneObjectPerLineWithEveryFieldAString() throws {
        let line = JSONLogLine.encode(
            at: UnixMillis(1_795_423_755_695), level: "info", label: "airlockd", message: "request refused",
            fields: [(key: "request_id", value: "req_0123"), (key: "message", value: "clash"), (key: "note", value: "a \"b\"\n\u{1}é")])
        #expect(line.hasSuffix("}\n") && line.dropLast().allSatisfy { $0 != "\n" })
        #expect(line.hasPrefix(#"{"ts":"2026-11-23T08:49:15.695Z","level":"info","label":"airlockd","message":"request refused""#))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["request_id"] == "req_0123")
        #expect(object["message"] == "request refused" && object["_message"] == "clash")
        #expect(object["note"] == "a \"b\"\n\u{1}é")
    }
}
