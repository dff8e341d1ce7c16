import AirlockCore
import Foundation

/// Validation of what admins type: names, model lists and expiry times. Shared by the CLI, the
/// admin API and the dashboard so that all three accept and refuse the same things.
public enum AdminInput {
    /// 1–63 characters of letters, digits, `.`, `_`, `-`, starting with a letter or digit, and
    /// not shaped like an id (`org_…`, `node_…`), so that a CLI argument is never ambiguous.
    /// `name` from a query or a flag as an instant: an ISO 8601 date (midnight UTC) or date-time
    /// with its zone; nil when absent, a clear error when unreadable.
    public static func instant(_ text: String?, name: String) throws -> UnixMillis? {
        guard let text else { return nil }
        guard let instant = UnixMillis.parseISODate(text) else {
            throw AirlockError.invalidArgument("\(name): '\(text.controlCharactersReplaced.clipped(to: 80))' is not an ISO 8601 date or time")
        }
        return instant
    }

    public static func validateName(_ name: String, kind: String) throws {
        let allowed = name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
        }
        guard !name.isEmpty, name.count <= 63, allowed, let first = name.unicodeScalars.first,
              CharacterSet.alphanumerics.contains(first)
        else {
            throw AirlockError.invalidName(
                kind: kind, name: name,
                reason: "use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        if OrgID.looksLikeID(name) || EnvID.looksLikeID(name) || KeyID.looksLikeID(name) || NodeID.looksLikeID(name) {
            throw AirlockError.invalidName(kind: kind, name: name, reason: "names may not start with org_, env_, key_ or node_")
        }
    }

    /// A catalog model's name, exactly as clients send it in `"model"`
    /// (`meta-llama/Llama-3.1-8B-Instruct`, `smollm2:135m`, `qwen2.5-7b@v2`): printable, no
    /// whitespace at either end (a name that differs from another only by a trailing space
    /// cannot be told apart on screen), and at most 256 UTF-8 bytes — the gateway's limit for
    /// `"model"`, so every catalog name is one a client can actually request.
    public static func validateModelName(_ name: String) throws {
        let printable = name.unicodeScalars.allSatisfy { scalar in
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned: false
            default: true
            }
        }
        let trimmed = name.unicodeScalars.first.map { !$0.properties.isWhitespace } == true
            && name.unicodeScalars.last.map { !$0.properties.isWhitespace } == true
        guard (1...256).contains(name.utf8.count), printable, trimmed else {
            throw AirlockError.invalidName(
                kind: "model", name: name,
                reason: "use 1-256 bytes of printable characters, with no control characters and no spaces at either end")
        }
    }

    /// Parses `a,b,c` into a sorted, de-duplicated model list. Empty input is an error: a key
    /// allowed no model at all is a mistake, not a policy.
    public static func modelList(_ text: String) throws -> [String] {
        let models = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        for model in models {
            let printable = model.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 && $0.value < 0x7f }
            guard !model.isEmpty, model.count <= 128, printable else {
                throw AirlockError.invalidArgument("invalid model name '\(model)' in --models: use printable ASCII without spaces, at most 128 characters")
            }
        }
        return Array(Set(models)).sorted()
    }

    /// Parses an expiry: a relative duration (`90d`, `12h`, `30m`) from `now`, or an absolute
    /// ISO 8601 date (`2027-01-31`, midnight UTC) or date-time with zone (`2027-01-31T12:00:00Z`).
    /// The result must lie in the future.
    public static func expiry(_ text: String, now: UnixMillis) throws -> UnixMillis {
        let instant = try relativeExpiry(text, now: now) ?? UnixMillis.parseISODate(text)
        guard let instant else {
            throw AirlockError.invalidArgument(
                "invalid expiry '\(text)': use a duration such as 90d, 12h or 30m, or a date such as 2027-01-31 or 2027-01-31T12:00:00Z")
        }
        guard instant > now else {
            throw AirlockError.invalidArgument("expiry '\(text)' is in the past")
        }
        return instant
    }

    private static func relativeExpiry(_ text: String, now: UnixMillis) throws -> UnixMillis? {
        guard let seconds = durationSeconds(text) else { return nil }
        guard seconds > 0, seconds <= 36_500 * 86_400 else {
            throw AirlockError.invalidArgument("expiry '\(text)' must be positive and under 100 years")
        }
        return now.adding(seconds: seconds)
    }

    /// `30m`, `12h`, `90d` in seconds; nil if `text` is not of that shape. A count too large to
    /// multiply gives `.max`, so that the caller's range check refuses it.
    public static func durationSeconds(_ text: String) -> Int64? {
        guard let unit = text.last, let seconds = ["d": 86_400, "h": 3_600, "m": 60][String(unit)],
              let count = Int64(text.dropLast())
        else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: Int64(seconds))
        return overflow ? .max : product
    }

}
