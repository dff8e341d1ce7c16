@testable import AirlockCounters
import AirlockTestSupport
import Foundation
import Testing

@Suite struct LMDBEnvironmentTests {
    @Test func putGetDeleteAndPrefixScan() throws {
        let dir = TemporaryDirectory()
        let env = try LMDBEnvironment(path: dir.child("env"))
        try env.write { txn in
            try txn.put(Array("a|1".utf8), [1])
            try txn.put(Array("a|2".utf8), [2])
            try txn.put(Array("b|1".utf8), [3])
        }
        var seen: [String] = []
        try env.read { txn in
            #expect(try txn.get(Array("a|2".utf8)) == [2])
            #expect(try txn.get(Array("zz".utf8)) == nil)
            seen = try txn.collect(prefix: Array("a|".utf8)) { key, _ in String(decoding: key, as: UTF8.self) }
        }
        #expect(seen == ["a|1", "a|2"])
        try env.write { txn in try txn.delete(Array("a|1".utf8)); try txn.delete(Array("absent".utf8)) }
        #expect(try env.read { try $0.get(Array("a|1".utf8)) } == nil)
    }

    @Test func aThrowingWriteKeepsNothing() throws {
        let dir = TemporaryDirectory()
        let env = try LMDBEnvironment(path: dir.child("env"))
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try env.write { txn in
                try txn.put(Array("k".utf8), [9])
                throw Stop()
            }
        }
        #expect(try env.read { try $0.get(Array("k".utf8)) } == nil)
    }
}

@Suite struct CounterStoreTests {
    static let usage = [
        RecentUsage(timestampMillis: 1_800_000_000_000, orgID: "org_1", envID: "env_1", keyID: "key_1", totalTokens: 100),
        RecentUsage(timestampMillis: 1_800_000_030_000, orgID: "org_1", envID: "env_1", keyID: "key_2", totalTokens: 50),
    ]

    @Test func aNewStoreNeedsARebuildAndACleanlyClosedOneDoesNot() throws {
        let dir = TemporaryDirectory()
        do {
            let store = try CounterStore(dataDirectory: dir.path)
            #expect(store.needsRebuild)
            try store.rebuild(Self.usage, now: 1_800_000_040_000)
            try store.close()
        }
        let reopened = try CounterStore(dataDirectory: dir.path)
        #expect(!reopened.needsRebuild)
    }

    /// The daemon opens exclusively and waits: a second daemon on the same data directory is
    /// refused, naming the reason, once the wait is over.
    @Test func anExclusiveOpenerWaitsThenRefusesWhileAnotherHolds() throws {
        let dir = TemporaryDirectory()
        let holder = try CounterStore(dataDirectory: dir.path)
        let started = ContinuousClock.now
        let error = #expect(throws: CountersInUse.self) {
            _ = try CounterStore(dataDirectory: dir.path, exclusive: true, waitForClaim: .milliseconds(300))
        }
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        #expect(error?.description.contains("another airlockd is serving this data directory") == true)
        withExtendedLifetime(holder) {}
    }

    /// A restart whose old process is still stopping gets the counters once it lets go.
    @Test func anExclusiveOpenerGetsTheCountersOnceTheHolderLetsGo() throws {
        final class Holder: @unchecked Sendable { var store: CounterStore? }
        let dir = TemporaryDirectory()
        let holder = Holder()
        holder.store = try CounterStore(dataDirectory: dir.path)
        try holder.store?.rebuild(Self.usage, now: 1_800_000_040_000)
        let started = ContinuousClock.now
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 0.3)
            try? holder.store?.close()
            holder.store = nil
        }
        let opened = try CounterStore(dataDirectory: dir.path, exclusive: true, waitForClaim: .seconds(10))
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(!opened.needsRebuild)  // the old process stopped cleanly
    }

    @Test func aStoreThatWasNotClosedNeedsARebuild() throws {
        let dir = TemporaryDirectory()
        do {
            let store = try CounterStore(dataDirectory: dir.path)
            try store.rebuild(Self.usage, now: 1_800_000_040_000)
        }
        #expect(try CounterStore(dataDirectory: dir.path).needsRebuild)
    }

    @Test func rebuildCountsEveryLayerFromTheLedger() throws {
        let dir = TemporaryDirectory()
        let store = try CounterStore(dataDirectory: dir.path)
        let now: Int64 = 1_800_000_040_000
        try store.rebuild(Self.usage, now: now)
        let totals = try store.environment.read { txn in
            let access = CounterAccess(txn: txn)
            let buffer = ScopeCounterBuffer(count: 3)
            try access.load("g", into: buffer[0])
            try access.load("o:org_1", into: buffer[1])
            try access.load("k:key_2", into: buffer[2])
            return [buffer[0].total(.requestsPerMinute), buffer[1].total(.tokensPerMinute), buffer[2].total(.tokensPerDay)]
        }
        #expect(totals == [2, 150, 50])
    }

    @Test(arguments: ["garbage", "empty"])
    func anUnusableFileIsMovedAsideAndRebuilt(kind: String) throws {
        let dir = TemporaryDirectory()
        let path = dir.child("counters")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let junk = kind == "garbage" ? Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31) }) : Data(repeating: 0, count: 8_192)
        try junk.write(to: URL(fileURLWithPath: path + "/data.mdb"))
        let store = try CounterStore(dataDirectory: dir.path)
        #expect(store.needsRebuild)
        #expect(store.movedAside != nil)
        #expect(FileManager.default.fileExists(atPath: store.movedAside! + "/data.mdb"))
        try store.rebuild(Self.usage, now: 1_800_000_040_000)
    }

    @Test func aDamagedCounterValueIsAnErrorNotAZero() throws {
        let dir = TemporaryDirectory()
        let store = try CounterStore(dataDirectory: dir.path)
        try store.environment.write { txn in
            try txn.put(Array("g".utf8), [1, 2, 3])
            try txn.put(Array("r:org_1:m".utf8), [1, 2, 3])
        }
        let buffer = ScopeCounterBuffer(count: 1)
        #expect(throws: CounterDamage.self) {
            try store.environment.read { txn in try CounterAccess(txn: txn).load("g", into: buffer[0]) }
        }
        #expect(throws: CounterDamage.self) {
            try store.environment.read { txn in try CounterAccess(txn: txn).reservedBucket("r:org_1:m") }
        }
    }
}
