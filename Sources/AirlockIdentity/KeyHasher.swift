import AirlockCore
import AirlockStore
import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Turns a presented key into the keyed hash stored in the database: HMAC-SHA-256 under a
/// 32-byte per-appliance secret.
///
/// A keyed hash rather than a plain one means a stolen database alone cannot be used to test
/// guesses offline. The secret lives in `<data dir>/secrets/key-hashing.secret` (mode 0600) and
/// is created once; if it is lost every key must be re-issued, so backups include it.
public struct KeyHasher: Sendable {
    /// HMAC state with the secret already absorbed (both padded key blocks hashed): copied per
    /// key checked, so every request skips setting up the key again.
    private let keyed: HMAC<SHA256>

    public init(secret: [UInt8]) {
        precondition(secret.count == 32, "key-hashing secret must be 32 bytes")
        keyed = HMAC<SHA256>(key: SymmetricKey(data: secret))
    }

    /// Lowercase hex HMAC-SHA-256 of the key string.
    public func hash(_ presentedKey: String) -> String {
        var mac = keyed
        mac.update(data: Array(presentedKey.utf8))
        return mac.finalize().withUnsafeBytes { $0.hexString }
    }

    public static func secretPath(dataDirectory: String) -> String {
        (dataDirectory as NSString).appendingPathComponent("secrets/key-hashing.secret")
    }

    /// The secret for `store`'s appliance. It may be created only while the database holds no
    /// credential: a missing secret beside existing keys means a restore went wrong, and a new
    /// secret would silently make every key unrecognisable.
    public static func forStore(_ store: Store, dataDirectory: String) async throws -> KeyHasher {
        let hasCredentials = try await store.read { try $0.credentialCount() > 0 }
        return try loadOrCreate(dataDirectory: dataDirectory, mayCreate: !hasCredentials)
    }

    /// Loads the appliance's secret, creating it when allowed. Creation is atomic, so two
    /// processes starting together agree on one secret. An existing file of the wrong size is an
    /// error, never silently replaced: replacing it would invalidate every key.
    public static func loadOrCreate(dataDirectory: String, mayCreate: Bool = true) throws -> KeyHasher {
        let path = secretPath(dataDirectory: dataDirectory)
        let directory = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: path) {
            guard mayCreate else {
                throw AirlockError.storage(
                    "\(path) is missing but the database holds API keys; restore it from the backup taken with the database (without it no existing key can be verified)")
            }
            try createPrivateDirectory(directory)
            try createSecret(at: path)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AirlockError.storage("cannot read \(path)")
        }
        guard data.count == 32 else {
            throw AirlockError.storage("\(path) is \(data.count) bytes, expected 32; restore it from backup")
        }
        return KeyHasher(secret: Array(data))
    }

    /// Writes a fresh secret to a temporary file, then hard-links it into place: `link` fails
    /// if the name exists, so a concurrent creator's complete file is never overwritten and a
    /// reader never sees a half-written one.
    private static func createSecret(at path: String) throws {
        let temporary = path + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw systemError("cannot create \(temporary)") }
        defer { unlink(temporary) }
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let written = secret.withUnsafeBytes { write(fd, $0.baseAddress, 32) }
        guard written == 32, fsync(fd) == 0 else {
            let error = systemError("cannot write \(temporary)")
            close(fd)
            throw error
        }
        close(fd)
        if link(temporary, path) != 0 && errno != EEXIST {
            throw systemError("cannot create \(path)")
        }
        // Make the new directory entry itself durable before anything is hashed with it.
        fsyncDirectory((path as NSString).deletingLastPathComponent)
    }

    /// Creates `secrets/` (0700) if needed, making its directory entry durable; tightens an
    /// existing one that others could read.
    private static func createPrivateDirectory(_ directory: String) throws {
        if FileManager.default.fileExists(atPath: directory) {
            try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
            return
        }
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        fsyncDirectory((directory as NSString).deletingLastPathComponent)
    }

    private static func fsyncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// An error naming `what` and the current `errno`, read before anything can overwrite it.
    private static func systemError(_ what: String) -> AirlockError {
        let reason = String(cString: strerror(errno))
        return AirlockError.storage("\(what): \(reason)")
    }
}

