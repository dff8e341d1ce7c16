import AirlockCore
import Foundation

/// An engine's error message made fit for a client (seed 004 § 13.1: error text never names a
/// node address or an internal path). Engines write their messages for their operators: vLLM
/// names a LoRA adapter or tokenizer by its file path, a proxy in front of an engine its
/// upstream URL. The reason stays ("maximum context length is 4096 tokens"); URLs become
/// `<url>`, absolute paths `<path>`, IP addresses and host:port pairs `<address>`. Model names
/// with a slash (`meta-llama/Llama-3.1-8B-Instruct`) are not paths and stay. A bare host name
/// (`gpu07`) looks like any other word, so the answering engine's own names — its node's name
/// and id and its URL's host, ``names(node:id:url:model:)`` — are given as words to hide.
enum EngineMessage {
    /// What ends an Airlock message about the engine: `": <the engine's message, scrubbed and
    /// clipped>"`, or `"."` when it gave none.
    static func reason(_ message: String?, hiding names: Set<String> = []) -> String {
        message.map { ": " + scrubbed($0, hiding: names).clipped(to: 300) } ?? "."
    }

    /// `message` with its URLs, paths and addresses replaced, and any word (or `word:port`) that
    /// is one of `names` (lowercased, as ``names(node:id:url:model:)`` gives them).
    static func scrubbed(_ message: String, hiding names: Set<String> = []) -> String {
        var out = ""
        var word = ""
        for character in message {
            if separators.contains(character) || character.isWhitespace {
                out += replaced(word, names)
                out.append(character)
                word = ""
            } else {
                word.append(character)
            }
        }
        return out + replaced(word, names)
    }

    /// The words that name one engine to its operators: its node's name and id, and the host of
    /// its URL, lowercased. The model's own name is never among them (a static engine is often
    /// named for its model, and the reason must still say which model), nor is a word shorter
    /// than three characters.
    static func names(node: String, id: String, url: String, model: String) -> Set<String> {
        var names: Set<String> = [node.lowercased(), id.lowercased()]
        // Engine URLs passed `EngineConfig.engineURL` (Foundation's parser) when they were stored.
        if let host = URL(string: url)?.host?.lowercased() {
            names.insert(host)
            // `gpu07` for `gpu07.dc1.bank.internal`: engines often say their short host name.
            if host.contains(where: \.isLetter), let short = host.split(separator: ".").first, short.count < host.count {
                names.insert(String(short))
            }
        }
        names.remove(model.lowercased())
        return names.filter { $0.count >= 3 }
    }

    /// Characters that end a word: quotes and brackets often wrap a path in a message.
    private static let separators: Set<Character> = ["'", "\"", "`", "(", ")", "[", "]", "{", "}", "<", ">", ",", ";", "="]

    /// `word` itself, or its placeholder; trailing punctuation (`/mnt/a: not found`) is kept.
    private static func replaced(_ word: String, _ names: Set<String>) -> String {
        var core = Substring(word)
        var trailing = ""
        while let last = core.last, ".:!?".contains(last) {
            trailing = String(last) + trailing
            core = core.dropLast()
        }
        guard let placeholder = placeholder(for: core, names) else { return word }
        return placeholder + trailing
    }

    private static func placeholder(for word: Substring, _ names: Set<String>) -> String? {
        if word.contains("://") { return "<url>" }
        if (word.hasPrefix("/") || word.hasPrefix("~/")), word.dropFirst().contains("/") { return "<path>" }
        if isAddress(word) || isNamed(word, names) { return "<address>" }
        return nil
    }

    /// `word` is one of `names`, alone or with a port.
    private static func isNamed(_ word: Substring, _ names: Set<String>) -> Bool {
        guard !names.isEmpty else { return false }
        let host = word.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]
        return names.contains(host.lowercased())
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
