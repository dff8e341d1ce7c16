import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

@Suite struct MigrationTests {
    @Test func migratesAnEmptyDirectoryToTheLatestSchema() async throws {
        let dir = TemporaryDirectory()
        let dataDir = dir.child("data")
        let store = try Store(dataDirectory: dataDir)
        #expect(try await store.appliedMigrations() == Store.knownMigrations)
        for table in ["orgs", "environments", "api_keys", "api_key_credentials", "zones", "models", "nodes", "usage_ledger", "audit_log"] {
            #expect(try Tampering.count(databasePath: store.path, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='\(table)'") == 1)
        }
        let journal = try Tampering.count(databasePath: store.path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode")
        #expect(journal == 1)
        let mode = try FileManager.default.attributesOfItem(atPath: dataDir)[.posixPermissions] as? Int
        #expect(mode == 0o700)
    }

    @Test func reopeningIsIdempotent() async throws {
        let dir = TemporaryDirectory()
        _ = try Store(dataDirectory: dir.path)
        let again = try Store(dataDirectory: dir.path)
        #expect(try await again.appliedMigrations() == Store.knownMigrations)
    }

    @Test func aFileWhereTheDataDirShouldBeIsAClearError() throws {
        let dir = TemporaryDirectory()
        let file = dir.child("not-a-dir")
        _ = FileManager.default.createFile(atPath: file, contents: Data())
        #expect { try Store(dataDirectory: file) } throws: { "\($0)".contains("not a directory") }
    }

    @Test func aCorruptDatabaseFileIsAClearError() throws {
        let dir = TemporaryDirectory()
        _ = FileManager.default.createFile(atPath: dir.child(Store.databaseFileName), contents: Data(repeating: 0x41, count: 8192))
        #expect { try Store(dataDirectory: dir.path) } throws: { "\($0)".contains("cannot open") }
    }
}
