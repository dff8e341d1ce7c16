import Foundation

/// Writing a file whole: to `<path>.new` with its final mode from the start, flushed to disk,
/// then renamed into place and the directory flushed, so a reader — another process, or this one
/// after a crash or power loss — sees the old file or the new one, never half of either. Used for
/// every small state file Airlock rewrites (licence and key files, the agent's maintenance notice,
/// the live node snapshot, the upgrade journal).
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, mode: Int) throws {
        let temporary = path + ".new"
        try? FileManager.default.removeItem(atPath: temporary)
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: mode]) else {
            throw AirlockError.storage("cannot write \(temporary)")
        }
        try flush(temporary)
        guard rename(temporary, path) == 0 else { throw AirlockError.storage("cannot write \(path)") }
        flushDirectory(of: path)
    }

    /// fsync(2) on `path` (a file or a directory).
    public static func flush(_ path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw AirlockError.storage("cannot open \(path) to flush it") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw AirlockError.storage("cannot flush \(path) to disk") }
    }

    /// Makes a rename or a new entry in `path`'s directory durable (best effort: some
    /// filesystems refuse fsync on a directory, and the rename has happened either way).
    public static func flushDirectory(of path: String) {
        try? flush((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent)
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
