import Foundation

/// Writing a file whole: to `<path>.new` with its final mode from the start, then renamed into
/// place, so a reader — another process, or this one after a crash — sees the old file or the
/// new one, never half of either. Used for every small state file Airlock rewrites (licence and
/// key files, the agent's maintenance notice, the live node snapshot).
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, mode: Int) throws {
        let temporary = path + ".new"
        try? FileManager.default.removeItem(atPath: temporary)
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: mode]) else {
            throw AirlockError.storage("cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else { throw AirlockError.storage("cannot write \(path)") }
    }
}

/// A private (0700) folder under the system's temporary directory for files that must pass
/// through the disk on their way somewhere (an uploaded licence, a backup being checked); removed
/// with everything in it when the value goes away.
public final class ScratchFolder {
    public let path: String

    public init(_ label: String) throws {
        path = NSTemporaryDirectory() + "airlock-\(label)-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
