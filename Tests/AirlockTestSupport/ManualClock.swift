import AirlockCore
import Synchronization

/// A wall clock that moves only when a test moves it, to cross grace windows and expiry dates
/// without sleeping.
public final class ManualClock: Sendable {
    private let current: Mutex<UnixMillis>

    public init(_ start: UnixMillis = UnixMillis(1_800_000_000_000)) { current = Mutex(start) }

    public var now: UnixMillis { current.withLock { $0 } }

    public func advance(seconds: Int64) { current.withLock { $0 = $0.adding(seconds: seconds) } }

    public var wallClock: WallClock { WallClock { [self] in now } }
}
