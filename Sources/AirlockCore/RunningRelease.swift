import Foundation

/// Which release this process runs from: the version in the signed manifest two folders above
/// the executable (`<prefix>/releases/<version>/bin/airlockd` → `<prefix>/releases/<version>/
/// manifest.json`), or, for a binary not installed from a bundle (development, tests), the build's
/// own version. `airlock upgrade` asks the restarted daemon for it, to know the new release is
/// what actually runs. Informational: the signature is checked by whoever installs, not here.
public struct RunningRelease: Codable, Sendable, Equatable {
    /// The release version, or nil when not started from a release folder.
    public var release: String?
    /// The version compiled into the binary.
    public var build: String

    /// The release folder, when started from one (holds `manifest.json` and `bin/`).
    public var directory: String?

    public static let current = RunningRelease.of(executable: "/proc/self/exe")

    enum CodingKeys: String, CodingKey { case release, build }

    static func of(executable: String) -> RunningRelease {
        let binary = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
        let manifest = binary.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("manifest.json")
        struct Envelope: Decodable { var kind: String; var payload: Data }
        struct Manifest: Decodable { var version: String }
        guard let data = try? Data(contentsOf: manifest), data.count < 4 << 20,
              let envelope = try? JSONDecoder().decode(Envelope.self, from: data), envelope.kind == "airlock-bundle/1",
              let version = (try? JSONDecoder().decode(Manifest.self, from: envelope.payload))?.version,
              ReleaseVersion(version) != nil
        else { return RunningRelease(release: nil, build: ProductVersion.current, directory: nil) }
        return RunningRelease(release: version, build: ProductVersion.current, directory: manifest.deletingLastPathComponent().path)
    }
}
