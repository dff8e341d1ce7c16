import Foundation

/// A fresh directory under the system temp dir, removed when the value is deinitialised.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "airlock-test") {
        let base = FileManager.default.temporaryDirectory.path
        path = (base as NSString).appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside this directory (not created).
    public func child(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

import AirlockStore

/// A store in its own temporary directory; the directory lives as long as the fixture.
public struct StoreFixture: Sendable {
    public let dir: TemporaryDirectory
    public let store: Store

    public init(dir: TemporaryDirectory, store: Store) {
        self.dir = dir
        self.store = store
    }
}
