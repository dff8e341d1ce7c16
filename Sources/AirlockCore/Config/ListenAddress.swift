/// A `host:port` to bind, such as `0.0.0.0:8443` or `[::1]:9443`.
public struct ListenAddress: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`; an IPv6 host must be bracketed. Returns a reason on failure.
    public static func parse(_ text: String) -> Result<ListenAddress, ReasonError> {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return .failure(ReasonError("expected [ipv6]:port, got '\(text)'"))
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                return .failure(ReasonError("expected host:port, got '\(text)'"))
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return .failure(ReasonError("bracket an IPv6 host: [\(host)]:\(portText)")) }
        }
        guard !host.isEmpty else { return .failure(ReasonError("missing host in '\(text)'")) }
        guard let port = Int(portText), (1...65535).contains(port) else {
            return .failure(ReasonError("port must be 1...65535, got '\(portText)'"))
        }
        return .success(ListenAddress(host: String(host), port: port))
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A human-readable reason, used where a parser reports why input was refused.
public struct ReasonError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
