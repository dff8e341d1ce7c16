import AirlockCore

/// An engine's error message made fit for a client (seed 004 § 13.1: error text never names a
/// node address or an internal path). Engines write their messages for their operators: vLLM
/// names a LoRA adapter or tokenizer by its file path, a proxy in front of an engine its
/// upstream URL. The reason stays ("maximum context length is 4096 tokens"); URLs become
/// `<url>`, absolute paths `<path>`, IP addresses and host:port pairs `<address>`. Model names
/// with a slash (`meta-llama/Llama-3.1-8B-Instruct`) are not paths and stay.
enum EngineMessage {
    /// What ends an Airlock message about the engine: `": <the engine's message, scrubbed and
    /// clipped>"`, or `"."` when it gave none.
    static func reason(_ message: String?) -> String {
        message.map { ": " + scrubbed($0).clipped(to: 300) } ?? "."
    }

    static func scrubbed(_ message: String) -> String {
        var out = ""
        var word = ""
        for character in message {
            if separators.contains(character) || character.isWhitespace {
                out += replaced(word)
                out.append(character)
                word = ""
            } else {
                word.append(character)
            }
        }
        return out + replaced(word)
    }

    /// Characters that end a word: quotes and brackets often wrap a path in a message.
    private static let separators: Set<Character> = ["'", "\"", "`", "(", ")", "[", "]", "{", "}", "<", ">", ",", ";", "="]

    /// `word` itself, or its placeholder; trailing punctuation (`/mnt/a: not found`) is kept.
    private static func replaced(_ word: String) -> String {
        var core = Substring(word)
        var trailing = ""
        while let last = core.last, ".:!?".contains(last) {
            trailing = String(last) + trailing
            core = core.dropLast()
        }
        guard let placeholder = placeholder(for: core) else { return word }
        return placeholder + trailing
    }

    private static func placeholder(for word: Substring) -> String? {
        if word.contains("://") { return "<url>" }
        if (word.hasPrefix("/") || word.hasPrefix("~/")), word.dropFirst().contains("/") { return "<path>" }
        if isAddress(word) { return "<address>" }
        return nil
    }

    /// An IPv4 address (with a port or not), an IPv6 address, or `host.name:port`.
    private static func isAddress(_ word: Substring) -> Bool {
        let colons = word.count(where: { $0 == ":" })
        if colons >= 2 {
            // IPv6: `fe80::1`, `2001:db8:0:0:0:0:2:1` — not a time of day such as 12:30:45.
            return (word.contains("::") || colons >= 4) && word.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        let parts = word.split(separator: ":", omittingEmptySubsequences: false)
        let host = parts[0]
        if parts.count == 2 {
            guard (2...5).contains(parts[1].count), parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber) else { return false }
            if host == "localhost" || isIPv4(host) { return true }
            return host.contains(".") && host.contains(where: \.isLetter)
        }
        return isIPv4(host)
    }

    private static func isIPv4(_ text: Substring) -> Bool {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { octet in
            (1...3).contains(octet.count) && octet.allSatisfy { $0.isASCII && $0.isNumber } && Int(octet).map { $0 <= 255 } == true
        }
    }
}
