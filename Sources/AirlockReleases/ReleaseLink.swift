import AirlockCore
import Foundation

/// `<prefix>/current`, the link the systemd units start from: pointed at `releases/<version>`
/// (relative, so the prefix can be mounted elsewhere) by one rename(2) of a new link over it.
public enum ReleaseLink {
    public static func point(_ prefix: String, at version: ReleaseVersion) throws {
        let link = prefix + "/current"
        let temporary = prefix + "/.current-\(UUID().uuidString.prefix(8))"
        guard symlink("releases/\(version)", temporary) == 0 else { throw BundleError("cannot create \(temporary)") }
        guard rename(temporary, link) == 0 else {
            unlink(temporary)
            throw BundleError("cannot switch \(link)")
        }
        AtomicFile.flushDirectory(of: link)
    }
}
