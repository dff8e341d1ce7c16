import AirlockCore
import Foundation
import Logging

/// Each request in flight holds two sockets (the client's and the engine's), so the daemon needs
/// far more descriptors than the soft limit of 1,024 a process starts with. At start-up it raises
/// its soft limit to the hard one (as Go's runtime and nginx's `worker_rlimit_nofile` do; the
/// systemd unit sets the hard limit with `LimitNOFILE`), and warns when even that is too low for
/// the configured concurrency: past it, accepting connections fails and NIO backs off.
enum OpenFileLimit {
    /// What is enough: both sockets of every request the global limit lets in (or of one full
    /// engine, if the global limit is unset), plus room for the database, LMDB, agents and
    /// operators.
    static func needed(_ config: AirlockConfig) -> UInt64 {
        UInt64(2 * (config.limits.global.concurrency ?? config.gateway.maxConnectionsPerEngine) + 1_024)
    }

    static func raise(for config: AirlockConfig, logger: Logger) {
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            // An unlimited hard limit still stops at the kernel's nr_open (1,048,576 by default).
            raised.rlim_cur = min(limit.rlim_max, 1 << 20)
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        let needed = needed(config)
        if limit.rlim_cur < needed {
            logger.warning("the open file limit is below what the configured concurrency needs; raise LimitNOFILE", metadata: [
                "limit": "\(limit.rlim_cur)", "needed": "\(needed)"])
        } else {
            logger.info("open file limit", metadata: ["limit": "\(limit.rlim_cur)"])
        }
    }
}
