import AirlockCore
import Foundation
import GRDB

/// The appliance's source of truth: one SQLite database in WAL mode inside the data directory.
///
/// Opening it creates the directory (mode 0700) if needed and runs pending migrations. Every
/// connection runs with `synchronous=FULL`, so a committed transaction survives power loss.
/// Other modules see typed readers and writers, never GRDB or SQL.
public final class Store: Sendable {
    public static let databaseFileName = "airlock.sqlite"

    let pool: DatabasePool
    public let path: String

    /// Opens the database in `dataDirectory`. With `create: false` a missing database is an
    /// error rather than a fresh, empty appliance: a mistyped `--data-dir` must not quietly start
    /// a second set of tenants.
    public init(dataDirectory: String, create: Bool = true) throws {
        path = (dataDirectory as NSString).appendingPathComponent(Self.databaseFileName)
        guard create || FileManager.default.fileExists(atPath: path) else {
            throw AirlockError.notInitialized(dataDirectory: dataDirectory)
        }
        try Self.prepareDirectory(dataDirectory)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // FULL: fsync the WAL on every commit. NORMAL (the WAL default) can lose the last
            // transactions on power loss, and an acknowledged ledger row must never be lost.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let newer: [String]
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // On the writer connection, which then migrates: a reader connection opened before the
            // migrations would keep the old schema for its later reads.
            newer = try pool.writeWithoutTransaction(Self.unknownMigrations)
            if newer.isEmpty { try Migrations.migrator.migrate(pool) }
        } catch {
            throw AirlockError.storage("cannot open \(path): \(error)")
        }
        // GRDB would open a database that a newer release has migrated and carry on, and this
        // build would then write rows into a schema it does not know. Refuse instead: after a
        // rolled-back upgrade, the pre-upgrade snapshot is what this release can run on.
        guard newer.isEmpty else {
            throw AirlockError.storage(
                "\(path) was migrated by a newer Airlock release (\(newer.joined(separator: ", "))); release "
                    + "\(ProductVersion.current) cannot run on it: finish the upgrade, or roll it back "
                    + "(`airlock upgrade rollback` restores the pre-upgrade snapshot)")
        }
        // The database holds key hashes and the audit trail: nobody but the owner reads it.
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path + suffix)
        }
    }

    static func prepareDirectory(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw AirlockError.storage("data dir \(directory) exists and is not a directory")
            }
            // Tighten a directory someone else created with looser permissions (best effort:
            // it fails harmlessly when we do not own it).
            let mode = (try? FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int) ?? 0
            if mode & 0o077 != 0 {
                try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
            }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw AirlockError.storage("cannot create data dir \(directory): \(error.localizedDescription)")
        }
    }

    /// Migrations applied to this database, oldest first.
    public func appliedMigrations() async throws -> [String] {
        try await pool.read { db in try Migrations.migrator.appliedMigrations(db) }
    }

    /// Migrations recorded in the database that this build does not know (a newer release ran them).
    static func unknownMigrations(_ db: Database) throws -> [String] {
        guard try db.tableExists("grdb_migrations") else { return [] }
        let known = Set(Migrations.identifiers)
        return try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier").filter { !known.contains($0) }
    }

    /// All migrations this build knows, oldest first.
    public static var knownMigrations: [String] { Migrations.identifiers }

    /// Runs `body` in a read transaction (a consistent snapshot while writers carry on).
    public func read<T: Sendable>(_ body: @escaping @Sendable (TenancyReader) throws -> T) async throws -> T {
        try await wrapErrors { try await pool.read { db in try body(TenancyReader(db: db)) } }
    }

    /// Runs `body` in one write transaction: the tenancy change and its audit row commit together
    /// or not at all.
    public func write<T: Sendable>(_ body: @escaping @Sendable (TenancyWriter) throws -> T) async throws -> T {
        try await wrapErrors { try await pool.write { db in try body(TenancyWriter(db: db)) } }
    }

    /// Domain errors pass through; database errors become ``AirlockError/storage(_:)`` so that
    /// callers show one kind of message.
    func wrapErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as AirlockError {
            throw error
        } catch let error as DatabaseError {
            throw AirlockError.storage(error.message ?? error.description)
        }
    }
}

extension Store {
    /// Copies the whole database into a new file at `path` with SQLite's online backup API: a
    /// consistent snapshot while the daemon keeps writing (readers and the writer are not held up
    /// beyond one step). The copy is an ordinary Airlock database (`Store(dataDirectory:)` opens it).
    public func backup(to path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw AirlockError.invalidArgument("\(path) already exists")
        }
        do {
            let copy = try DatabaseQueue(path: path)
            try pool.backup(to: copy)
            try copy.close()
        } catch {
            throw AirlockError.storage("could not back up the database: \(error)")
        }
    }
}
