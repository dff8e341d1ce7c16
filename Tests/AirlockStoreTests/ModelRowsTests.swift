import AirlockCore
import AirlockStore
import AirlockTestSupport
import Testing

/// The model catalog's rows: exact names, sorted reads, and a generation bump on every change so
/// that another process's caches notice.
@Suite struct ModelRowsTests {
    static func catalog(_ names: String...) async throws -> StoreFixture {
        let dir = TemporaryDirectory()
        let store = try Store(dataDirectory: dir.path)
        for (index, name) in names.enumerated() {
            try await store.write { try $0.insert(CatalogModel(name: name, createdAt: UnixMillis(1_800_000_000_000 + Int64(index)))) }
        }
        return StoreFixture(dir: dir, store: store)
    }

    @Test func readsAreSortedByExactName() async throws {
        let f = try await Self.catalog("smollm2:135m", "Qwen2.5-7B", "meta-llama/Llama-3.1-8B-Instruct")
        let models = try await f.store.read { try $0.models() }
        #expect(models.map(\.name) == ["Qwen2.5-7B", "meta-llama/Llama-3.1-8B-Instruct", "smollm2:135m"])
        #expect(try await f.store.read { try $0.model(named: "smollm2:135m") }
                == CatalogModel(name: "smollm2:135m", createdAt: UnixMillis(1_800_000_000_000)))
        #expect(try await f.store.read { try $0.model(named: "qwen2.5-7b") } == nil)
    }

    @Test func aDuplicateNameIsRefusedByTheDatabase() async throws {
        let f = try await Self.catalog("smollm2:135m")
        await #expect(throws: (any Error).self) {
            try await f.store.write { try $0.insert(CatalogModel(name: "smollm2:135m", createdAt: UnixMillis(1))) }
        }
        #expect(try await f.store.read { try $0.models() }.count == 1)
    }

    @Test func insertAndDeleteBumpTheTenancyGeneration() async throws {
        let f = try await Self.catalog()
        let start = try await f.store.read { try $0.tenancyGeneration() }
        try await f.store.write { try $0.insert(CatalogModel(name: "smollm2:135m", createdAt: UnixMillis(1))) }
        let added = try await f.store.read { try $0.tenancyGeneration() }
        #expect(added == start + 1)
        try await f.store.write { try $0.deleteModel(named: "smollm2:135m") }
        #expect(try await f.store.read { try $0.tenancyGeneration() } == added + 1)
        #expect(try await f.store.read { try $0.models() }.isEmpty)
    }

    @Test func aRolledBackInsertLeavesNeitherRowNorBump() async throws {
        let f = try await Self.catalog()
        let start = try await f.store.read { try $0.tenancyGeneration() }
        struct Abort: Error {}
        await #expect(throws: Abort.self) {
            try await f.store.write { tx in
                try tx.insert(CatalogModel(name: "smollm2:135m", createdAt: UnixMillis(1)))
                throw Abort()
            }
        }
        #expect(try await f.store.read { try $0.models() }.isEmpty)
        #expect(try await f.store.read { try $0.tenancyGeneration() } == start)
    }
}
