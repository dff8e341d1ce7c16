import AirlockCore
import AirlockLicensing
import Foundation

/// What an upgrade bundle holds, signed by the vendor's release key (docs/BUNDLES.md). The
/// manifest is the only thing trusted about a bundle: every payload file is checked against it,
/// and anything in the archive it does not list is a reason to refuse the whole bundle.
public struct BundleManifest: Codable, Sendable, Equatable {
    /// The signed envelope's kind: a licence or activation signature never passes for a bundle.
    public static let kind = "airlock-bundle/1"

    public var format: Int
    public var product: String
    public var version: ReleaseVersion
    /// The oldest installed release this bundle may upgrade; older ones go through an
    /// intermediate release first (their migrations may be needed).
    public var minimumFromVersion: ReleaseVersion
    /// Unix seconds, when the vendor built it.
    public var createdAt: Int64
    /// Signed permission to install over a newer release (a vendor-sanctioned downgrade).
    public var allowDowngrade: Bool
    /// Every schema migration the bundle's airlockd knows, oldest first. A database that has run
    /// a migration not in this list was migrated by a newer release, and this bundle cannot run it.
    public var migrations: [String]
    public var files: [File]

    public struct File: Codable, Sendable, Equatable {
        /// `airlockd`, `airlock`, `airlock-agent`, `appliance` or `catalog`.
        public var component: String
        /// Relative path inside the release directory, e.g. `bin/airlockd`.
        public var path: String
        public var size: Int64
        public var sha256: String
        public var executable: Bool

        public init(component: String, path: String, size: Int64, sha256: String, executable: Bool) {
            (self.component, self.path, self.size, self.sha256, self.executable) = (component, path, size, sha256, executable)
        }

        enum CodingKeys: String, CodingKey { case component, path, size, sha256, executable }
    }

    enum CodingKeys: String, CodingKey {
        case format, product, version, minimumFromVersion = "minimum_from_version", createdAt = "created_at"
        case allowDowngrade = "allow_downgrade", migrations, files
    }

    public init(version: ReleaseVersion, minimumFromVersion: ReleaseVersion, createdAt: Int64, allowDowngrade: Bool,
                migrations: [String], files: [File]) {
        format = 1
        product = "airlock"
        (self.version, self.minimumFromVersion, self.createdAt) = (version, minimumFromVersion, createdAt)
        (self.allowDowngrade, self.migrations, self.files) = (allowDowngrade, migrations, files)
    }

    /// The manifest in `envelope`, once its signature checks out with a trusted release key and
    /// it follows the manifest's own rules.
    public static func verified(_ envelope: SignedEnvelope, keys: ReleaseKeys) throws -> BundleManifest {
        let manifest: BundleManifest
        do {
            manifest = try envelope.verified(BundleManifest.self, kind: kind, by: try keys.key(for: envelope))
        } catch let error as LicensingError {
            throw BundleError("the bundle manifest: \(error.description)")
        }
        try manifest.validate()
        return manifest
    }

    // MARK: - Limits

    /// The binaries every bundle carries, at these paths.
    public static let binaries = ["airlockd": "bin/airlockd", "airlock": "bin/airlock", "airlock-agent": "bin/airlock-agent"]
    public static let maxFiles = 512
    static let maxFileBytes: Int64 = 1 << 30
    static let maxTotalBytes: Int64 = 4 << 30
    static let maxPathBytes = 200
    static let maxDepth = 8

    /// Everything about the manifest that does not need the payload: format, paths, sizes, the
    /// required binaries, no path twice. A bundle that fails here is refused before any byte of
    /// its payload is read.
    public func validate() throws {
        guard format == 1, product == "airlock" else { throw BundleError("this is not an Airlock bundle of a format this release reads (format \(format))") }
        guard minimumFromVersion <= version else { throw BundleError("the manifest's minimum_from_version is above its version") }
        guard !files.isEmpty, files.count <= Self.maxFiles else { throw BundleError("the manifest lists \(files.count) files (1–\(Self.maxFiles))") }
        guard migrations.count <= 10_000, migrations.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 128 && Self.isName($0) }),
              Set(migrations).count == migrations.count else { throw BundleError("the manifest's migration list is malformed") }
        var seen = Set<String>()
        var total: Int64 = 0
        for file in files {
            guard Self.isSafePath(file.path) else { throw BundleError("the manifest names an unsafe path '\(file.path.clipped(to: 80))'") }
            guard seen.insert(file.path).inserted else { throw BundleError("the manifest lists \(file.path) twice") }
            // No file may also be a directory of another: `appliance/x` and `appliance/x/y`.
            guard !files.contains(where: { $0.path.hasPrefix(file.path + "/") }) else { throw BundleError("\(file.path) is both a file and a folder") }
            guard file.size >= 0, file.size <= Self.maxFileBytes else { throw BundleError("\(file.path) is larger than a bundle file may be") }
            guard file.sha256.utf8.count == 64, file.sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw BundleError("\(file.path) has no valid SHA-256")
            }
            guard Self.component(of: file.path) == file.component else { throw BundleError("\(file.path) is not a part of component \(file.component.clipped(to: 40))") }
            total += file.size
        }
        guard total <= Self.maxTotalBytes else { throw BundleError("the bundle's files add up to more than \(Self.maxTotalBytes >> 30) GiB") }
        for (name, path) in Self.binaries.sorted(by: { $0.key < $1.key }) {
            guard files.contains(where: { $0.path == path && $0.executable }) else { throw BundleError("the bundle has no \(name) (\(path))") }
        }
    }

    /// The component a path belongs to: each binary at its fixed path, everything under
    /// `appliance/` or `catalog/`; nil for anything else.
    public static func component(of path: String) -> String? {
        if let binary = binaries.first(where: { $0.value == path }) { return binary.key }
        if path.hasPrefix("appliance/") { return "appliance" }
        if path.hasPrefix("catalog/") { return "catalog" }
        return nil
    }

    /// Relative, `/`-separated, each part 1–64 of `[A-Za-z0-9._-]` and not `.` or `..`, at most
    /// `maxDepth` deep. Nothing absolute, no `..`, no backslashes, no hidden tricks in Unicode.
    public static func isSafePath(_ path: String) -> Bool {
        guard !path.isEmpty, path.utf8.count <= maxPathBytes else { return false }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= maxDepth else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 64 && part != "." && part != ".." && Self.isName(String(part))
        }
    }

    /// Only ASCII letters, digits, '.', '_' and '-'.
    public static func isName(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
    }

    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return encoder
    }()
}

/// A bundle or upgrade problem, phrased for the operator.
public struct BundleError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
