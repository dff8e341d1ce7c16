import Foundation

/// The appliance's counters: one LMDB environment in `<data dir>/counters`, opened once per
/// process, plus what it takes to trust it.
///
/// Opening checks the environment: a file LMDB cannot use (damaged, other format or version) is
/// moved aside to `counters.unusable-<time>` and replaced by an empty one; a format version
/// other than ours, or a missing clean-shutdown mark (the previous process crashed, and
/// `MDB_NOSYNC` may have lost its last commits) means the counters cannot be trusted. In every
/// such case ``needsRebuild`` is true and the owner must call ``rebuild(_:)`` with the ledger's
/// recent usage before admitting traffic — never a crash, never a silent zero.
///
/// The process that opens the counters first claims them (``CounterOwnership``), so that the
/// CLI can tell that the daemon holds them and leave them alone.
public final class CounterStore: Sendable {
    /// 2: one record per scope (`ScopeCounters`) and one per lease; 1 was a record per counter.
    public static let formatVersion: Int64 = 2
    static let formatKey = Array("meta|format".utf8)
    static let cleanKey = Array("meta|clean".utf8)

    public let environment: LMDBEnvironment
    public let needsRebuild: Bool
    /// Where an unusable environment was moved, if one was.
    public let movedAside: String?
    /// This process's claim on the counters, nil when another process held it at opening.
    private let ownership: CounterOwnership?

    /// - Parameters:
    ///   - exclusive: refuse (``CountersInUse``) rather than share the counters with a process
    ///     that holds them: the CLI working on a stopped appliance, and the daemon, which must
    ///     not serve a data directory another daemon serves (it would rebuild the counters under
    ///     the other's leases and take over its admin socket).
    ///   - waitForClaim: how long an exclusive opener waits for a holder to let go, so that a
    ///     restart does not fail on an old process that is still finishing its stop.
    public init(dataDirectory: String, exclusive: Bool = false, waitForClaim: Duration = .zero) throws {
        let path = (dataDirectory as NSString).appendingPathComponent("counters")
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let deadline = ContinuousClock.now + waitForClaim
        var claim = try CounterOwnership(path: path + ".lock")
        while exclusive, claim == nil, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            claim = try CounterOwnership(path: path + ".lock")
        }
        ownership = claim
        if exclusive && ownership == nil { throw CountersInUse(path: path, waited: waitForClaim) }
        let (environment, marks, movedAside) = try Self.openUsable(path)
        needsRebuild = movedAside != nil || marks.format != Self.formatVersion || marks.clean != 1
        self.environment = environment
        self.movedAside = movedAside
        try environment.write { txn in try txn.putIntegers(Self.cleanKey, [0]) }
        try environment.sync()
    }

    /// Opens the environment and reads its format and clean marks — the first read is also
    /// the test of whether LMDB can use the file at all.
    private static func openUsable(_ path: String) throws -> (LMDBEnvironment, (format: Int64?, clean: Int64?), String?) {
        func open() throws -> (LMDBEnvironment, (format: Int64?, clean: Int64?)) {
            let environment = try LMDBEnvironment(path: path)
            let marks = try environment.read { txn in
                (format: try txn.getIntegers(Self.formatKey)?.first, clean: try txn.getIntegers(Self.cleanKey)?.first)
            }
            return (environment, marks)
        }
        do {
            let (environment, marks) = try open()
            return (environment, marks, nil)
        } catch let error as LMDBError where error.meansUnusableFile {
            // The failed environment was closed when it went out of scope above.
            let moved = try moveAside(path)
            let (environment, marks) = try open()
            return (environment, marks, moved)
        }
    }

    private static func moveAside(_ path: String) throws -> String {
        let target = path + ".unusable-\(Int(Date().timeIntervalSince1970))"
        try FileManager.default.moveItem(atPath: path, toPath: target)
        return target
    }

    /// Replaces every counter with `usage` (the ledger's rows of the last day) and marks the
    /// environment as ours and trustworthy. Returns the scopes written.
    @discardableResult
    public func rebuild(_ usage: [RecentUsage], now nowMillis: Int64) throws -> Int {
        let windows = LedgerWindows(usage, now: nowMillis)
        try environment.write { txn in
            try txn.removeAll()
            let access = CounterAccess(txn: txn)
            for (name, index) in windows.slots { try access.put(name, windows.records[index]) }
            try txn.putIntegers(Self.formatKey, [Self.formatVersion])
            try txn.putIntegers(Self.cleanKey, [0])
        }
        try environment.sync()
        return windows.slots.count
    }

    /// Marks a clean shutdown: the next start may trust the counters as they are.
    public func close() throws {
        try environment.write { txn in try txn.putIntegers(Self.cleanKey, [1]) }
        try environment.sync()
    }
}

/// One served request as the ledger recorded it, for rebuilding windows.
public struct RecentUsage: Sendable {
    public var timestampMillis: Int64
    public var orgID: String
    public var envID: String
    public var keyID: String
    public var totalTokens: Int64

    public init(timestampMillis: Int64, orgID: String, envID: String, keyID: String, totalTokens: Int64) {
        self.timestampMillis = timestampMillis
        self.orgID = orgID
        self.envID = envID
        self.keyID = keyID
        self.totalTokens = totalTokens
    }

    /// Every layer the request was counted in.
    var scopes: [String] { ScopeName.layers(org: orgID, env: envID, key: keyID) }
}
