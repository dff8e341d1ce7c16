import AirlockCore
import Synchronization

/// Counts request outcomes per second in a ring of `window` seconds, for the dashboard's
/// overview. One lock per request, held for a few additions.
public final class OutcomeTally: Sendable {
    private struct Second {
        var epoch: Int64 = -1
        var served = 0
        var refused = 0
        var failed = 0
    }

    public let window: Int
    private let ring: Mutex<[Second]>

    public init(window: Int = 300) {
        self.window = window
        ring = Mutex(Array(repeating: Second(), count: window))
    }

    func count(_ outcome: RequestOutcome, at now: UnixMillis) {
        let epoch = now.value / 1000
        let slot = Int(epoch % Int64(window))
        ring.withLock { seconds in
            if seconds[slot].epoch != epoch { seconds[slot] = Second(epoch: epoch) }
            switch outcome {
            case .served: seconds[slot].served += 1
            case .refused: seconds[slot].refused += 1
            case .engineFailed, .interrupted, .internalError: seconds[slot].failed += 1
            }
        }
    }

    /// The last `window` seconds up to `now`.
    public func recent(at now: UnixMillis) -> RecentTraffic {
        let newest = now.value / 1000
        return ring.withLock { seconds in
            var traffic = RecentTraffic(seconds: window, served: 0, refused: 0, failed: 0)
            for second in seconds where second.epoch > newest - Int64(window) && second.epoch <= newest {
                traffic.served += second.served
                traffic.refused += second.refused
                traffic.failed += second.failed
            }
            return traffic
        }
    }
}
