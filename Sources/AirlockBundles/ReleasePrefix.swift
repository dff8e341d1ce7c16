import AirlockCore
import AirlockLicensing
import Foundation

/// The installed releases (docs/BUNDLES.md § Layout):
///
/// ```
/// <prefix>/releases/<version>/      one complete release: bin/, appliance/, catalog/, manifest.json
/// <prefix>/current -> releases/<v>  what the systemd units start; switched by one rename(2)
/// <prefix>/upgrade-journal.json     present only while an upgrade or rollback is under way
/// ```
///
/// A release directory only ever appears whole: it is extracted under `releases/.staging-…` and
/// renamed into place once every file is checked and flushed.
public struct ReleasePrefix: Sendable {
    public let root: String

    public init(_ root: String) { self.root = root }

    var releases: String { root + "/releases" }
    var currentLink: String { root + "/current" }
    var journalPath: String { root + "/upgrade-journal.json" }
    static let signedManifestName = "manifest.json"

    public func directory(for version: ReleaseVersion) -> String { releases + "/" + version.description }

    /// The release `current` points at; nil before the first install. A `current` that is not a
    /// link to `releases/<version>` is an error, never guessed around.
    public func currentVersion() throws -> ReleaseVersion? {
        var info = stat()
        guard lstat(currentLink, &info) == 0 else { return nil }
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: currentLink),
              target.hasPrefix("releases/"), let version = ReleaseVersion(String(target.dropFirst("releases/".count))) else {
            throw BundleError("\(currentLink) is not a link to releases/<version>; repair it by hand (docs/OPERATIONS.md § Upgrades)")
        }
        return version
    }

    /// Releases present under `releases/`, oldest first.
    public func installedVersions() -> [ReleaseVersion] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: releases)) ?? []
        return names.compactMap(ReleaseVersion.init).filter {
            FileManager.default.fileExists(atPath: directory(for: $0) + "/" + Self.signedManifestName)
        }.sorted()
    }

    /// The signed manifest of an installed release, verified again with `keys`.
    public func manifest(of version: ReleaseVersion, keys: ReleaseKeys) throws -> BundleManifest {
        let path = directory(for: version) + "/" + Self.signedManifestName
        let envelope: SignedEnvelope
        do {
            envelope = try SignedEnvelope.read(path, what: "release manifest")
        } catch let error as LicensingError {
            throw BundleError("release \(version): \(error.description)")
        }
        let manifest = try BundleManifest.verified(envelope, keys: keys)
        guard manifest.version == version else { throw BundleError("\(path) is the manifest of \(manifest.version), not \(version)") }
        return manifest
    }

    /// Puts `bundle`'s files in `releases/<version>/`. A release already there is checked file
    /// by file against the bundle and used if intact; a damaged one is moved aside and replaced.
    public func stage(_ bundle: UpgradeBundle, progress: (String) -> Void) throws {
        try FileManager.default.createDirectory(atPath: releases, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        removeLeftoverStaging()
        let target = directory(for: bundle.manifest.version)
        if FileManager.default.fileExists(atPath: target) {
            if (try? checkFiles(of: bundle.manifest, in: target)) != nil,
               FileManager.default.contents(atPath: target + "/" + Self.signedManifestName) == (try? bundle.envelope.encoded()) {
                progress("release \(bundle.manifest.version) is already staged and intact")
                return
            }
            let aside = releases + "/.damaged-\(bundle.manifest.version)-\(Int(Date().timeIntervalSince1970))"
            progress("release \(bundle.manifest.version) on disk differs from the bundle; moving it to \(aside)")
            guard rename(target, aside) == 0 else { throw BundleError("cannot move \(target) aside") }
        }
        let staging = releases + "/.staging-\(bundle.manifest.version)-\(UUID().uuidString.prefix(8))"
        guard mkdir(staging, 0o755) == 0 else { throw BundleError("cannot create \(staging)") }
        do {
            try bundle.extract(into: staging, progress: progress)
            try AtomicFile.write(try bundle.envelope.encoded(), to: staging + "/" + Self.signedManifestName, mode: 0o644)
            try flushTree(staging)
            guard rename(staging, target) == 0 else { throw BundleError("cannot move the staged release to \(target)") }
            AtomicFile.flushDirectory(of: target)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    /// Each file of `manifest` present in `directory` with its size, hash and mode.
    func checkFiles(of manifest: BundleManifest, in directory: String) throws {
        for file in manifest.files {
            let path = directory + "/" + file.path
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int64(info.st_size) == file.size,
                  (info.st_mode & 0o111 != 0) == file.executable,
                  try FileDigest.sha256(ofFile: path) == file.sha256 else {
                throw BundleError("\(path) differs from the release manifest")
            }
        }
    }

    /// Points `current` at `version` in one rename(2): a new link beside it, renamed over it.
    public func switchCurrent(to version: ReleaseVersion) throws {
        guard FileManager.default.fileExists(atPath: directory(for: version) + "/" + Self.signedManifestName) else {
            throw BundleError("release \(version) is not installed under \(releases)")
        }
        try ReleaseLink.point(root, at: version)
    }

    /// Staging folders and link files a crash left behind (never a complete release).
    public func removeLeftoverStaging() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: releases)) ?? [] where name.hasPrefix(".staging-") {
            try? FileManager.default.removeItem(atPath: releases + "/" + name)
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where name.hasPrefix(".current-") {
            unlink(root + "/" + name)
        }
    }

    /// Removes the oldest releases beyond `keep`, never one in `protected`.
    public func prune(keep: Int, protecting protected: Set<ReleaseVersion>) -> [ReleaseVersion] {
        let candidates = installedVersions().filter { !protected.contains($0) }
        let excess = max(0, candidates.count + protected.count - keep)
        let removed = Array(candidates.prefix(excess))
        for version in removed { try? FileManager.default.removeItem(atPath: directory(for: version)) }
        return removed
    }

    private func flushTree(_ directory: String) throws {
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let name = enumerator?.nextObject() as? String {
            var info = stat()
            if lstat(directory + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { try AtomicFile.flush(directory + "/" + name) }
        }
        try AtomicFile.flush(directory)
    }
}
