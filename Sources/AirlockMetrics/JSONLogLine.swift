import AirlockCore

/// One structured log line (`LOG_FORMAT=json`): a JSON object on one line, for journald →
/// Loki / Elasticsearch pipelines. `ts` (ISO 8601 UTC with milliseconds), `level`, `label` and
/// `message` come first, then the metadata as string fields in the order given. A metadata key
/// that would overwrite one of the four is written with a leading `_`. Kept apart from swift-log
/// so that the encoding — what log shippers parse — is tested here, byte for byte.
public enum JSONLogLine {
    static let reserved: Set<String> = ["ts", "level", "label", "message"]

    public static func encode(at time: UnixMillis, level: String, label: String, message: String,
                              fields: [(key: String, value: String)]) -> String {
        var line = "{\"ts\":\"\(time)\",\"level\":" + quoted(level) + ",\"label\":" + quoted(label)
            + ",\"message\":" + quoted(message)
        for field in fields {
            line += "," + quoted(reserved.contains(field.key) ? "_" + field.key : field.key) + ":" + quoted(field.value)
        }
        return line + "}\n"
    }

    /// A JSON string: quotes, backslashes and control characters escaped (RFC 8259 § 7); the rest
    /// as UTF-8, so a log line never breaks in two.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
