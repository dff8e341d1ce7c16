import AirlockCore
import AirlockStore
import Crypto
import Foundation
import ZIPFoundation

/// `airlock backup create / verify / restore`: the data directory in one ZIP file.
///
/// What goes in: the database (a consistent copy through SQLite's online backup API, so the
/// daemon may keep running), the key-hashing secret, the appliance identity, both CAs and the
/// HTTPS certificate, the licence files, any `ledger-unwritten.jsonl`, and the configuration
/// file. Keys and secrets are sealed with the operator's passphrase; everything is listed with
/// its SHA-256 in an authenticated manifest with the ledger's and audit log's head. What stays
/// out: the LMDB counters (rebuilt from the ledger at the next start), the live node snapshot and
/// the admin socket, and the local admin credential (made anew at start).
public enum Backup {
    /// Files sealed with the passphrase: whoever holds them can act as the appliance.
    static let sealedFiles = ["secrets/key-hashing.secret", "identity/appliance.key", "tls/ca.key", "tls/server.key", "node-ca/ca.key"]
    static let plainFiles = ["tls/ca.crt", "tls/server.crt", "node-ca/ca.crt", "ledger-unwritten.jsonl"]
    static let database = Store.databaseFileName
    static let configPath = "config/airlock.toml"
    /// Where a restore leaves the backed-up configuration, for the operator to compare.
    public static let restoredConfigName = "airlock.toml.from-backup"
    static let maxManifestBytes = 1024 * 1024
    static let maxSmallFileBytes: Int64 = 16 * 1024 * 1024

    // MARK: - Create

    /// Writes a backup of `dataDirectory` (and `configFile`, if given) to `output`, atomically.
    @discardableResult
    public static func create(dataDirectory: String, configFile: String?, output: String, passphrase: String,
                              clock: WallClock = .system) async throws -> BackupManifest {
        guard !FileManager.default.fileExists(atPath: output) else { throw AirlockError.invalidArgument("\(output) already exists") }
        let salt = Data((0..<16).map { _ in UInt8.random(in: 0...255) })
        let keys = try PassphraseKeys(passphrase: passphrase, salt: salt)
        let scratch = try ScratchFolder("backup")
        let copy = scratch.path + "/" + database
        try Store(dataDirectory: dataDirectory, create: false).backup(to: copy)
        let (ledger, audit) = try await heads(ofDatabaseIn: scratch.path)

        var stored: [(source: Source, file: BackupManifest.File)] = []
        stored.append(try fileEntry(database, from: copy, sealed: nil))
        for path in sealedFiles + plainFiles {
            let full = dataDirectory + "/" + path
            guard FileManager.default.fileExists(atPath: full) else { continue }
            stored.append(try fileEntry(path, from: full, sealed: sealedFiles.contains(path) ? keys : nil))
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/license"))?.sorted() ?? []
        where isSafeName(name) {
            stored.append(try fileEntry("license/" + name, from: dataDirectory + "/license/" + name, sealed: nil))
        }
        if let configFile {
            stored.append(try fileEntry(configPath, from: configFile, sealed: nil))
        }
        var manifest = BackupManifest(createdAt: clock.now(), salt: salt.base64EncodedString(), log2N: PassphraseKeys.log2N,
                                      ledger: ledger, audit: audit, files: stored.map(\.file), mac: "")
        manifest.mac = keys.mac(try manifest.macInput())

        let partial = output + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        do {
            let archive = try Archive(url: URL(fileURLWithPath: partial), accessMode: .create)
            try add(archive, manifestEntryName, data: try BackupManifest.encoder.encode(manifest))
            for item in stored {
                switch item.source {
                case let .data(data): try add(archive, "files/" + item.file.path, data: data)
                case let .file(path):
                    try archive.addEntry(with: "files/" + item.file.path, fileURL: URL(fileURLWithPath: path), compressionMethod: .deflate)
                }
            }
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw AirlockError.storage("could not write \(output): \(error)")
        }
        _ = chmod(partial, 0o600)
        try FileManager.default.moveItem(atPath: partial, toPath: output)
        return manifest
    }

    enum Source {
        case file(String)
        case data(Data)
    }

    /// A file's manifest line, and what to store: the file itself, or its sealed bytes.
    private static func fileEntry(_ path: String, from full: String, sealed keys: PassphraseKeys?) throws
        -> (source: Source, file: BackupManifest.File) {
        let plainHash = try FileDigest.sha256(ofFile: full)
        if let keys {
            let sealed = try keys.seal(try Data(contentsOf: URL(fileURLWithPath: full)))
            return (.data(sealed), .init(path: path, storedSize: Int64(sealed.count), storedSHA256: FileDigest.sha256(sealed),
                                                sha256: plainHash, sealed: true))
        }
        let size = (try FileManager.default.attributesOfItem(atPath: full)[.size] as? NSNumber)?.int64Value ?? 0
        return (.file(full), .init(path: path, storedSize: size, storedSHA256: plainHash, sha256: plainHash, sealed: false))
    }

    private static func add(_ archive: Archive, _ name: String, data: Data) throws {
        try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
            data.subdata(in: Int(position)..<Int(position) + size)
        }
    }

    // MARK: - Verify and restore

    /// Checks everything a restore would rely on — the manifest's MAC (so the passphrase), the
    /// archive holding exactly the listed files, every size and hash, every sealed file opening,
    /// and the database's ledger and audit chains verifying up to the heads the manifest names —
    /// without touching any data directory.
    @discardableResult
    public static func verify(_ file: String, passphrase: String) async throws -> BackupManifest {
        let scratch = try ScratchFolder("backup")
        return try await unpack(file, passphrase: passphrase, into: scratch.path)
    }

    /// Restores a backup into `dataDirectory`, which must be empty or absent unless `replace`
    /// (then the existing one is moved aside to `<dir>.before-restore-<time>`, never deleted).
    /// Everything is unpacked and verified beside it first; the switch is one rename.
    /// Returns the manifest and where the previous directory went, if anywhere.
    public static func restore(_ file: String, passphrase: String, dataDirectory: String, replace: Bool,
                               clock: WallClock = .system) async throws -> (BackupManifest, movedAside: String?) {
        let target = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
        let occupied = ((try? FileManager.default.contentsOfDirectory(atPath: target)) ?? []).isEmpty == false
        if occupied && !replace {
            throw AirlockError.invalidArgument("\(target) is not empty; stop airlockd and pass --replace to move it aside and restore")
        }
        let stamp = clock.now().value
        let staging = "\(target).restore-\(stamp)"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let manifest: BackupManifest
        do {
            manifest = try await unpack(file, passphrase: passphrase, into: staging)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
        var movedAside: String?
        if FileManager.default.fileExists(atPath: target) {
            let aside = "\(target).before-restore-\(stamp)"
            try FileManager.default.moveItem(atPath: target, toPath: aside)
            movedAside = aside
        }
        try FileManager.default.moveItem(atPath: staging, toPath: target)
        return (manifest, movedAside)
    }

    /// Reads and checks the archive, writing each file under `directory` (the configuration as
    /// `restoredConfigName`), then verifies the database's chains there.
    private static func unpack(_ file: String, passphrase: String, into directory: String) async throws -> BackupManifest {
        let archive: Archive
        do {
            try ZIPModes.requireEndRecordAtEnd(of: file)
            archive = try Archive(url: URL(fileURLWithPath: file), accessMode: .read)
        } catch {
            throw BackupError.damaged("not a readable ZIP file")
        }
        guard let manifestEntry = archive[manifestEntryName], manifestEntry.type == .file,
              manifestEntry.uncompressedSize <= Int64(maxManifestBytes) else { throw BackupError.damaged("no manifest") }
        let manifestData = try read(archive, manifestEntry, limit: Int64(maxManifestBytes))
        guard let manifest = try? JSONDecoder().decode(BackupManifest.self, from: manifestData), manifest.format == 1,
              let salt = Data(base64Encoded: manifest.salt) else { throw BackupError.damaged("the manifest cannot be read") }
        let keys = try PassphraseKeys(passphrase: passphrase, salt: salt, log2N: manifest.log2N)
        guard constantTimeEquals(keys.mac(try manifest.macInput()), manifest.mac) else { throw BackupError.wrongPassphrase }

        // Exactly the listed files, each once, each a path this format can hold.
        let listed = manifest.files.map { "files/" + $0.path }
        guard Set(listed).count == listed.count, manifest.files.allSatisfy({ isAllowedPath($0.path) }),
              manifest.files.contains(where: { $0.path == database }) else {
            throw BackupError.damaged("the manifest lists a file this format cannot hold, or one twice")
        }
        var names: [String] = []
        for entry in archive {
            guard entry.type == .file else { throw BackupError.damaged("\(entry.path) is not a plain file") }
            names.append(entry.path)
        }
        guard names.sorted() == (listed + [manifestEntryName]).sorted() else {
            throw BackupError.damaged("the archive's files differ from its manifest")
        }
        for item in manifest.files {
            guard let entry = archive["files/" + item.path], entry.uncompressedSize == item.storedSize else {
                throw BackupError.damaged("\(item.path) is not the size the manifest says")
            }
            let destination = directory + "/" + (item.path == configPath ? restoredConfigName : item.path)
            try FileManager.default.createDirectory(atPath: (destination as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            if item.sealed || item.storedSize <= maxSmallFileBytes && item.path != database {
                let stored = try read(archive, entry, limit: item.storedSize)
                guard FileDigest.sha256(stored) == item.storedSHA256 else { throw BackupError.damaged("\(item.path) does not match its hash") }
                let plain = item.sealed ? try keys.open(stored) : stored
                guard FileDigest.sha256(plain) == item.sha256 else { throw BackupError.damaged("\(item.path) does not match its hash") }
                try AtomicFile.write(plain, to: destination, mode: item.path.hasSuffix(".crt") ? 0o644 : 0o600)
            } else {
                do {
                    _ = try archive.extract(entry, to: URL(fileURLWithPath: destination))
                } catch {
                    throw BackupError.damaged("\(item.path) cannot be extracted")
                }
                _ = chmod(destination, 0o600)
                guard try FileDigest.sha256(ofFile: destination) == item.storedSHA256 else {
                    throw BackupError.damaged("\(item.path) does not match its hash")
                }
            }
        }
        let (ledger, audit) = try await heads(ofDatabaseIn: directory)
        guard ledger == manifest.ledger, audit == manifest.audit else {
            throw BackupError.damaged("the database's chains do not end where the manifest says")
        }
        return manifest
    }

    private static let manifestEntryName = "manifest.json"

    /// Both chains of the database in `directory`, verified; a broken chain is refused.
    static func heads(ofDatabaseIn directory: String) async throws -> (BackupManifest.Head, BackupManifest.Head) {
        let store = try Store(dataDirectory: directory, create: false)
        let ledger = try await store.verifyLedger()
        let audit = try await store.verifyAuditLog()
        for report in [ledger, audit] where !report.isIntact {
            throw BackupError.damaged("the \(report.chain) chain does not verify")
        }
        return (BackupManifest.Head(rows: ledger.rowsChecked, seq: ledger.verifiedHead?.seq, hash: ledger.verifiedHead?.hash),
                BackupManifest.Head(rows: audit.rowsChecked, seq: audit.verifiedHead?.seq, hash: audit.verifiedHead?.hash))
    }

    private static func read(_ archive: Archive, _ entry: Entry, limit: Int64) throws -> Data {
        try archive.contents(of: entry, limit: limit, tooLarge: BackupError.damaged("\(entry.path) is larger than listed"),
                             unreadable: BackupError.damaged("\(entry.path) cannot be read"))
    }

    // MARK: - Small things

    static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 128 && !name.hasPrefix(".") && BundleManifest.isName(name)
    }

    /// The only paths a backup may name: the fixed files, and plain names under `license/`.
    static func isAllowedPath(_ path: String) -> Bool {
        if path == database || path == configPath || sealedFiles.contains(path) || plainFiles.contains(path) { return true }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 2 && parts[0] == "license" && isSafeName(String(parts[1]))
    }

}
