import AirlockCore
import Crypto
import Foundation

/// The appliance's local admin credential: a bearer token in `<data_dir>/secrets/admin-api.token`
/// (0600, in the 0700 `secrets/` folder), made by `airlockd serve` when missing. Whoever can read
/// the daemon's data directory is already its administrator; the token lets tools on the box
/// (scripts, tests, the CLI) use `/admin/v1` as that administrator. Requests made with it are
/// audited as `local-admin`. Delete the file and restart the daemon to replace it.
public struct LocalAdminCredential: Sendable {
    public static let actor = "local-admin"
    /// SHA-256 of the token: all the daemon keeps in memory.
    let digest: String

    public static func path(dataDirectory: String) -> String { dataDirectory + "/secrets/admin-api.token" }

    /// Reads the token file, creating it first if it does not exist.
    public static func openOrCreate(dataDirectory: String) throws -> LocalAdminCredential {
        let path = path(dataDirectory: dataDirectory)
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(atPath: dataDirectory + "/secrets", withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try AtomicFile.write(Data(("alk_admin_" + SessionStore.randomToken() + "\n").utf8), to: path, mode: 0o600)
        }
        let token = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.hasPrefix("alk_admin_"), token.count > 40 else {
            throw AirlockError.invalidArgument("\(path) does not hold an admin token; delete it and restart airlockd to make a new one")
        }
        return LocalAdminCredential(digest: SessionStore.key(token))
    }

    /// Whether `token` is this credential, compared in constant time.
    public func matches(_ token: String) -> Bool {
        constantTimeEquals(SessionStore.key(token), digest)
    }
}
