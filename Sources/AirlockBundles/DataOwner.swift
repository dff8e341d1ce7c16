import AirlockStore
import Foundation

/// `airlock upgrade` runs as root — it writes `/opt/airlock` and restarts services — while the
/// data directory belongs to the daemon's user (`airlock`, 0700). Whatever it creates or replaces
/// there is handed to the directory's owner, or the daemon could not open its own database after
/// a rollback.
public enum DataOwner {
    public static func adopt(_ paths: [String], in dataDirectory: String) {
        guard geteuid() == 0 else { return }
        var owner = stat()
        guard stat(dataDirectory, &owner) == 0 else { return }
        for path in paths where FileManager.default.fileExists(atPath: path) {
            lchown(path, owner.st_uid, owner.st_gid)
        }
    }

    /// The database and its WAL files, which opening it as root may have created.
    public static func adoptDatabase(in dataDirectory: String) {
        let database = dataDirectory + "/" + Store.databaseFileName
        adopt([database, database + "-wal", database + "-shm"], in: dataDirectory)
    }
}
