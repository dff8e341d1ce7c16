import Foundation

/// A process's claim on the counters: an advisory `flock` on `<data dir>/counters.lock`, held for
/// as long as the ``CounterStore`` lives. The kernel drops it when the process ends, however it
/// ends, so unlike the clean-shutdown mark it tells a running owner from a crashed one. Its own
/// file, not one inside `counters/`, because a damaged environment is moved aside whole.
final class CounterOwnership: Sendable {
    private let descriptor: Int32

    /// Takes the claim; nil when another process (or another store in this one) holds it.
    init?(path: String) throws {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw LMDBError(code: errno, operation: "open \(path)") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            return nil
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }
}

/// The counters are held by another process — the running daemon, normally.
public struct CountersInUse: Error, CustomStringConvertible {
    public var path: String
    /// How long the opener waited for the holder to let go: the daemon waits, the CLI does not.
    public var waited: Duration

    public init(path: String, waited: Duration = .zero) {
        self.path = path
        self.waited = waited
    }

    public var description: String {
        if waited > .zero {
            return "another process still holds the counters in \(path) after \(waited.components.seconds) s: another airlockd "
                + "is serving this data directory. Stop it first, or give this daemon a data_dir of its own"
        }
        return "the counters in \(path) are held by another process (is airlockd running without answering on its admin socket?)"
    }
}
