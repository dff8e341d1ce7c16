import AirlockCore
import Foundation

/// Why a backup was refused. Every case leaves the data directory as it was.
public enum BackupError: Error, Equatable, CustomStringConvertible {
    case wrongPassphrase
    case damaged(String)

    public var description: String {
        switch self {
        case .wrongPassphrase: return "the passphrase does not open this backup (or its manifest was changed)"
        case let .damaged(reason): return "the backup is damaged or not an Airlock backup: \(reason)"
        }
    }
}

/// `manifest.json` in a backup: what it holds, each file's size and SHA-256, the chains' heads,
/// and an HMAC over all of it keyed by the passphrase.
public struct BackupManifest: Codable, Sendable, Equatable {
    public struct File: Codable, Sendable, Equatable {
        /// Relative to the data directory (`config/airlock.toml` for the configuration).
        public var path: String
        /// Size and SHA-256 of the bytes stored in the archive (sealed bytes for a sealed file)…
        public var storedSize: Int64
        public var storedSHA256: String
        /// …and of the file itself.
        public var sha256: String
        public var sealed: Bool
    }

    public struct Head: Codable, Sendable, Equatable {
        public var rows: Int64
        public var seq: Int64?
        public var hash: String?
    }

    public var format = 1
    public var createdAt: UnixMillis
    public var salt: String
    public var log2N: Int
    public var ledger: Head
    public var audit: Head
    public var files: [File]
    /// HMAC-SHA-256 (hex) of this manifest encoded with `mac` empty.
    public var mac: String

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return encoder
    }()

    func macInput() throws -> Data {
        var unsigned = self
        unsigned.mac = ""
        return try Self.encoder.encode(unsigned)
    }
}
