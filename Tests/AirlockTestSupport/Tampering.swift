import AirlockStore
import GRDB

/// Edits the database behind Airlock's back, the way an insider with file access could: opens
/// the SQLite file directly, drops the append-only triggers, runs `sql`, and puts them back.
public enum Tampering {
    /// Waits for a store that has just been let go of (GRDB closes its pool's connections as it
    /// frees them) instead of failing at once with "database is locked".
    private static var patient: Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        return configuration
    }

    public static func run(databasePath: String, table: String, _ sql: String) throws {
        let queue = try DatabaseQueue(path: databasePath, configuration: patient)
        try queue.writeWithoutTransaction { db in
            let triggers = try Row.fetchAll(
                db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", arguments: [table])
            for trigger in triggers { try db.execute(sql: "DROP TRIGGER \(trigger["name"] as String)") }
            try db.execute(sql: sql)
            for trigger in triggers { try db.execute(sql: trigger["sql"] as String) }
        }
    }

    /// Runs `sql` with the triggers in place, returning the SQLite error message if it failed.
    public static func attempt(databasePath: String, _ sql: String) -> String? {
        do {
            let queue = try DatabaseQueue(path: databasePath, configuration: patient)
            try queue.write { db in try db.execute(sql: sql) }
            return nil
        } catch let error as DatabaseError {
            return error.message ?? "\(error)"
        } catch {
            return "\(error)"
        }
    }

    public static func count(databasePath: String, _ sql: String) throws -> Int {
        try DatabaseQueue(path: databasePath, configuration: patient).read { db in try Int.fetchOne(db, sql: sql) ?? 0 }
    }
}

extension Tampering {
    /// The first column of every row `sql` returns, as text: for comparing a whole grouped result
    /// with one query instead of one query per group.
    public static func strings(databasePath: String, _ sql: String) throws -> [String] {
        try DatabaseQueue(path: databasePath, configuration: patient).read { db in try String.fetchAll(db, sql: sql) }
    }
}
