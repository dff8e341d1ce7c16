import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts a child process with posix_spawn rather than Foundation's `Process`, for the agent's
/// engine and the upgrade's restart commands alike. On Linux, `Process` hands the child the
/// spawning thread's signal mask (swift-corelibs-foundation#4772), and Swift's concurrency threads
/// block SIGTERM, so an engine could never be stopped gracefully; nor can it undo an ignored
/// SIGTERM (ServiceLifecycle ignores it to catch it). And it learns of a child's exit through a
/// socket the child inherits, so a restart command that leaves a daemon running in the background
/// is never seen to finish. Here the child starts with no blocked signals, default dispositions,
/// its own process group, /dev/null as stdin, the parent's stdout and stderr, and no other
/// descriptor; `exit(of:)` reaps it by pid.
public enum ChildSpawn {
    public struct Failure: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// How a child ended.
    public enum Ended: Sendable, Equatable, CustomStringConvertible {
        case exited(status: Int32)
        case signalled(Int32)

        public var description: String {
            switch self {
            case let .exited(status): "exited with status \(status)"
            case let .signalled(signal): "killed by signal \(signal)"
            }
        }
    }

    /// `searchPath`: a program named without a `/` is looked up in `PATH` (posix_spawnp).
    public static func spawn(_ executable: String, arguments: [String], environment: [String: String],
                             searchPath: Bool = false) throws(Failure) -> pid_t {
        #if canImport(Darwin)
        var attributes: posix_spawnattr_t?
        var actions: posix_spawn_file_actions_t?
        #else
        var attributes = posix_spawnattr_t()
        var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawnattr_init(&attributes)
        posix_spawn_file_actions_init(&actions)
        defer {
            posix_spawnattr_destroy(&attributes)
            posix_spawn_file_actions_destroy(&actions)
        }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        sigdelset(&all, SIGKILL)  // cannot be caught or ignored, so never need resetting
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        var flags = Int32(POSIX_SPAWN_SETPGROUP) | Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        #if canImport(Darwin)
        flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
        for descriptor in [1, 2] as [Int32] { posix_spawn_file_actions_addinherit_np(&actions, descriptor) }
        #else
        closeInheritedDescriptors(&actions)
        #endif
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var pid = pid_t()
        let status = withCStrings([executable] + arguments) { argv in
            withCStrings(environment.map { "\($0.key)=\($0.value)" }) { envp in
                searchPath && !executable.contains("/")
                    ? posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
                    : posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            }
        }
        guard status == 0 else {
            throw Failure(reason: status == ENOENT ? "\(executable) does not exist" : "\(executable): \(String(cString: strerror(status)))")
        }
        return pid
    }

    /// Waits for `pid` on a thread of its own (waitpid blocks, for as long as the child runs)
    /// and reaps it, so no zombie is left.
    public static func exit(of pid: pid_t) async -> Ended {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1, errno == EINTR {}
                // WIFEXITED / WTERMSIG are C macros Swift does not import.
                let signal = status & 0x7f
                continuation.resume(returning: signal == 0 ? .exited(status: (status >> 8) & 0xff) : .signalled(signal))
            }
        }
    }

    #if !canImport(Darwin)
    /// Descriptors the parent has open (gRPC sockets, a probe's pipes, Foundation's own) must not
    /// stay open in the child. glibc 2.34+ closes them in one action; before, each is named.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        if let closeFrom = addCloseFrom {
            _ = closeFrom(&actions, 3)
            return
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in open.compactMap(Int32.init) where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
    }

    /// `posix_spawn_file_actions_addclosefrom_np`, which the Glibc module does not export.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()
    #endif

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
