import Synchronization

/// A value tests change between calls while closures they handed out read it.
public final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) { mutex = Mutex(value) }

    public var value: Value { mutex.withLock { $0 } }

    public func update(_ body: (inout Value) -> Void) { mutex.withLock { body(&$0) } }
}
