import Hummingbird

/// The API key from `Authorization: Bearer <key>`. Anything else — no header, another scheme,
/// two headers, control characters, an absurd length — is nil, and the caller answers 401
/// without spending a hash or a lookup on it.
enum BearerToken {
    static let maxLength = 256

    static func extract(_ headers: HTTPFields) -> String? {
        let values = headers[values: .authorization]
        guard values.count == 1, let value = values.first, value.utf8.count <= maxLength + 7 else { return nil }
        guard value.utf8.count > 7, value.prefix(7).lowercased() == "bearer " else { return nil }
        let token = value.dropFirst(7).trimmingSpaces()
        guard !token.isEmpty, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        return String(token)
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var text = self
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}
