// The manifest, release keys and BundleError come with this module for its users.
@_exported import AirlockReleases
import AirlockCore
import AirlockLicensing
import Crypto
import Foundation
import ZIPFoundation

/// One upgrade bundle file: a ZIP holding `manifest.json` (a signed envelope whose payload is the
/// ``BundleManifest``) and `payload/<path>` for each file the manifest lists — nothing else
/// (docs/BUNDLES.md). ``open(_:keys:)`` checks the signature and the archive's table of contents
/// against the manifest; ``extract(into:progress:)`` then writes each file, checking its size
/// while it streams and its SHA-256 at the end.
public struct UpgradeBundle: Sendable {
    public let path: String
    public let manifest: BundleManifest
    /// The signed manifest, kept beside the release so that the installed version can be
    /// re-verified later.
    public let envelope: SignedEnvelope

    static let manifestEntry = "manifest.json"
    static let payloadPrefix = "payload/"

    /// Reads and checks everything but the payload's bytes: the signature by a trusted release
    /// key, the manifest's own rules, and that the archive holds exactly the manifest's files,
    /// each once, each a plain file of the listed size.
    public static func open(_ path: String, keys: ReleaseKeys) throws -> UpgradeBundle {
        let archive = try readArchive(path)
        guard let entry = archive[manifestEntry], entry.type == .file,
              entry.uncompressedSize <= UInt64(SignedEnvelope.maxFileBytes) else { throw BundleError("\(path) has no bundle manifest") }
        let envelope: SignedEnvelope
        do {
            envelope = try SignedEnvelope.decode(try read(archive, entry, limit: Int64(SignedEnvelope.maxFileBytes)), what: "bundle manifest")
        } catch let error as LicensingError {
            throw BundleError("the bundle manifest: \(error.description)")
        }
        let manifest = try BundleManifest.verified(envelope, keys: keys)
        try checkTableOfContents(archive, path: path, manifest: manifest)
        return UpgradeBundle(path: path, manifest: manifest, envelope: envelope)
    }

    /// Writes every payload file under `directory` (which must exist and be empty), each created
    /// anew (never through an existing name), no larger than listed, with its listed hash and
    /// mode; refuses at the first difference. Nothing in the archive decides a file's type or
    /// mode: only the signed manifest does.
    public func extract(into directory: String, progress: (String) -> Void = { _ in }) throws {
        try readPayload(into: directory, progress: progress)
    }

    /// Checks every payload file's size and hash without writing anything.
    public func verifyPayload(progress: (String) -> Void = { _ in }) throws {
        try readPayload(into: nil, progress: progress)
    }

    /// Streams each listed file out of the archive, checking its size as it comes and its hash at
    /// the end; writes it under `directory` when one is given.
    private func readPayload(into directory: String?, progress: (String) -> Void) throws {
        let archive = try Self.readArchive(path)
        let total = manifest.files.reduce(0) { $0 + $1.size }
        var done: Int64 = 0
        for file in manifest.files {
            guard let entry = archive[Self.payloadPrefix + file.path] else { throw BundleError("\(file.path) is missing from the bundle") }
            let output = try directory.map { try Self.create(file.path, under: $0) }
            var hasher = SHA256()
            var written: Int64 = 0
            do {
                _ = try archive.extract(entry, skipCRC32: false) { chunk in
                    written += Int64(chunk.count)
                    guard written <= file.size else { throw BundleError("\(file.path) is larger than its manifest says") }
                    hasher.update(data: chunk)
                    try output?.handle.write(contentsOf: chunk)
                }
                guard written == file.size else { throw BundleError("\(file.path) is shorter than its manifest says") }
                guard Array(hasher.finalize()).hexString == file.sha256 else { throw BundleError("\(file.path) does not match its SHA-256 in the manifest") }
                if let output, fchmod(output.handle.fileDescriptor, file.executable ? 0o755 : 0o644) != 0 || fsync(output.handle.fileDescriptor) != 0 {
                    throw BundleError("cannot finish writing \(output.path)")
                }
            } catch let error as BundleError {
                throw error
            } catch {
                throw BundleError("\(file.path) cannot be read from the bundle (damaged or truncated)")
            }
            done += file.size
            if file.size > 1 << 20 {
                progress("  \(file.path) \(Self.megabytes(file.size)) — \(total == 0 ? 100 : done * 100 / total)% of the payload")
            }
        }
    }

    /// A new file at `relative` under `root` (0600 until its mode is set): created, never opened
    /// through an existing name or a link.
    private static func create(_ relative: String, under root: String) throws -> (path: String, handle: FileHandle) {
        let destination = root + "/" + relative
        try makeParents(of: relative, under: root)
        let descriptor = Foundation.open(destination, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw BundleError("cannot create \(destination)") }
        return (destination, FileHandle(fileDescriptor: descriptor, closeOnDealloc: true))
    }

    // MARK: - Building (vendor side)

    /// Writes a bundle of `files` (each read from its source path) signed with `key`, atomically.
    public static func build(manifest: BundleManifest, sources: [String: String], key: Curve25519.Signing.PrivateKey,
                             output: String) throws {
        try manifest.validate()
        guard !FileManager.default.fileExists(atPath: output) else { throw BundleError("\(output) exists; refusing to overwrite it") }
        let envelope: SignedEnvelope
        do {
            envelope = try SignedEnvelope.sign(try BundleManifest.encoder.encode(manifest), kind: BundleManifest.kind, with: key)
        } catch {
            throw BundleError("cannot sign the manifest: \(error)")
        }
        let partial = output + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        do {
            let archive = try Archive(url: URL(fileURLWithPath: partial), accessMode: .create)
            let data = try envelope.encoded()
            try archive.addEntry(with: manifestEntry, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
            for file in manifest.files {
                guard let source = sources[file.path] else { throw BundleError("no source for \(file.path)") }
                try archive.addEntry(with: payloadPrefix + file.path, fileURL: URL(fileURLWithPath: source), compressionMethod: .deflate)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error as? BundleError ?? BundleError("could not write \(output): \(error)")
        }
        _ = chmod(partial, 0o644)
        try AtomicFile.flush(partial)
        guard rename(partial, output) == 0 else { throw BundleError("could not write \(output)") }
    }

    /// The manifest line for the file at `source`.
    public static func describe(_ source: String, as path: String, executable: Bool) throws -> BundleManifest.File {
        guard let component = BundleManifest.component(of: path) else { throw BundleError("\(path) is not a place a bundle can put a file") }
        let size = (try? FileManager.default.attributesOfItem(atPath: source)[.size] as? NSNumber)?.int64Value
        guard let size else { throw BundleError("cannot read \(source)") }
        return .init(component: component, path: path, size: size, sha256: try FileDigest.sha256(ofFile: source), executable: executable)
    }

    // MARK: - Small things

    static func readArchive(_ path: String) throws -> Archive {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw BundleError("cannot read \(path)")
        }
        try ZIPModes.requireEndRecordAtEnd(of: path)
        do {
            return try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw BundleError("\(path) is not a bundle (not a readable ZIP file; truncated?)")
        }
    }

    /// The archive's entries are the manifest and `payload/<path>` for each listed file: no
    /// other name, no name twice, no directory, link or device entry, each file's stored size
    /// the listed one.
    private static func checkTableOfContents(_ archive: Archive, path: String, manifest: BundleManifest) throws {
        let expected = Set(manifest.files.map { payloadPrefix + $0.path } + [manifestEntry])
        var seen = Set<String>()
        for entry in archive {
            guard seen.insert(entry.path).inserted else { throw BundleError("the bundle holds \(entry.path.clipped(to: 80)) twice") }
            guard expected.contains(entry.path) else { throw BundleError("the bundle holds \(entry.path.clipped(to: 80)), which its manifest does not list") }
            guard entry.type == .file else { throw BundleError("\(entry.path.clipped(to: 80)) in the bundle is a \(entry.type == .symlink ? "link" : "folder"), not a file") }
        }
        guard seen == expected else { throw BundleError("the bundle lacks files its manifest lists") }
        // ZIPFoundation reports device and FIFO entries as files; the raw Unix modes show them.
        // Both readings must list the same entries in the same order, or one was fooled.
        let modes = try ZIPModes.unixModes(of: path)
        guard modes.map(\.name) == archive.map(\.path) else { throw BundleError("\(path) has a ZIP directory that reads two ways") }
        for (name, mode) in modes {
            let type = mode & 0o170000
            guard type == 0 || type == 0o100000 else { throw BundleError("\(name.clipped(to: 80)) in the bundle is not a regular file (mode \(String(mode, radix: 8)))") }
        }
        for file in manifest.files {
            guard let entry = archive[payloadPrefix + file.path], entry.uncompressedSize == UInt64(file.size) else {
                throw BundleError("\(file.path) in the bundle is not the size its manifest says")
            }
        }
    }

    private static func makeParents(of relative: String, under root: String) throws {
        var current = root
        for part in relative.split(separator: "/").dropLast() {
            current += "/" + part
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: current, isDirectory: &isDirectory) {
                // Created by this extraction a moment ago; lstat so that a link can never stand in.
                var info = stat()
                guard lstat(current, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { throw BundleError("\(current) is not a folder") }
                continue
            }
            guard mkdir(current, 0o755) == 0 else { throw BundleError("cannot create \(current)") }
        }
    }

    static func read(_ archive: Archive, _ entry: Entry, limit: Int64) throws -> Data {
        try archive.contents(of: entry, limit: limit, tooLarge: BundleError("\(entry.path) is larger than it may be"),
                             unreadable: BundleError("\(entry.path) cannot be read from the bundle (damaged or truncated)"))
    }

    static func megabytes(_ bytes: Int64) -> String { String(format: "%.1f MB", Double(bytes) / 1_000_000) }
}
