import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command (no shell) and waits for it, with only standard input, output and error
/// inherited. Foundation's `Process` is not used for the upgrade's restart command: it learns of
/// a child's exit through a socket the child inherits, so a restart command that leaves a daemon
/// running in the background (anything but systemctl) would never be seen to finish.
enum ChildProcess {
    /// The exit status, or 128 + the signal number when the command was killed.
    static func run(_ command: [String]) async throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor in openDescriptors() where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        var arguments: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { arguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, command[0], &actions, nil, &arguments, environ)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .ENOENT) }
        let child = pid
        // waitpid blocks: on a Dispatch thread, never on the concurrency pool.
        return await withCheckedContinuation { done in
            DispatchQueue.global().async {
                var status: Int32 = 0
                while waitpid(child, &status, 0) == -1 && errno == EINTR {}
                let signal = status & 0x7f
                done.resume(returning: signal == 0 ? (status >> 8) & 0xff : 128 + signal)
            }
        }
    }

    /// This process's open descriptors, from /proc (Linux).
    private static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }
}
