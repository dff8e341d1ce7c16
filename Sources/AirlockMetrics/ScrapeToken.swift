import AirlockCore
import Foundation

/// The bearer token Prometheus sends to `/metrics`. A scrape reveals which models are used and
/// how much, so it is not public; it is a separate token from the admin credential because a
/// Prometheus server's configuration is read by more people than an appliance's administrators.
/// From `[metrics] scrape_token_file`, or the daemon's own `<data_dir>/secrets/metrics.token`
/// (0600, made at first start; delete it and restart to replace it).
public struct ScrapeToken: Sendable {
    /// The whole `Authorization` value a scrape must send.
    private let expected: String

    static let prefix = "alk_metrics_"
    static let minimumLength = 32

    public static func path(dataDirectory: String) -> String { dataDirectory + "/secrets/metrics.token" }

    /// Reads the configured token file, or the daemon's own (made first if missing).
    public static func load(_ settings: MetricsSettings, dataDirectory: String) throws -> ScrapeToken {
        let path = settings.scrapeTokenFile ?? path(dataDirectory: dataDirectory)
        if settings.scrapeTokenFile == nil, !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(atPath: dataDirectory + "/secrets", withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            var random = SystemRandomNumberGenerator()  // getrandom(2): cryptographically secure
            let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &random) }
            try AtomicFile.write(Data((prefix + bytes.hexString + "\n").utf8), to: path, mode: 0o600)
        }
        let token: String
        do {
            token = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw AirlockError.invalidArgument("cannot read the metrics scrape token \(path): \(error.localizedDescription)")
        }
        guard token.count >= minimumLength, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw AirlockError.invalidArgument(
                "\(path) must hold one scrape token of at least \(minimumLength) printable characters without spaces")
        }
        return ScrapeToken(expected: "Bearer " + token)
    }

    /// Whether a request's `Authorization` header values carry this token: exactly one value,
    /// compared whole in constant time.
    public func accepts(_ authorization: [String]) -> Bool {
        guard authorization.count == 1, let value = authorization.first else { return false }
        return constantTimeEquals(value, expected)
    }
}
