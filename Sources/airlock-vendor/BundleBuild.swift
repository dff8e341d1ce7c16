import AirlockBundles
import AirlockCore
import AirlockLicensing
import ArgumentParser
import Foundation

/// `airlock-vendor bundle build`: a signed upgrade bundle from built binaries and files
/// (docs/BUNDLES.md). The schema migrations recorded in the manifest come from the bundled
/// `airlockd version --json`, so they are the shipped build's, not this tool's.
struct BundleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bundle", abstract: "Build signed upgrade bundles.",
                                                    subcommands: [Build.self])

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a signed upgrade bundle from built binaries and appliance files.")
        @Option(help: "The release signing key (not the licence key).") var signingKey: String
        @Option(help: "Folder holding airlockd, airlock and airlock-agent.") var binDir: String
        @Option(help: "The appliance/ folder to ship (systemd units, default config, install script).") var appliance: String?
        @Option(help: "A model catalog file to ship under catalog/.") var catalog: String?
        @Option(help: "Release version, MAJOR.MINOR.PATCH (default: the bundled airlockd's build version).") var version: String?
        @Option(help: "Oldest installed release this bundle may upgrade (default: the same major version's .0.0).") var minimumFrom: String?
        @Flag(help: "Sign the bundle as an allowed downgrade.") var allowDowngrade = false
        @Option(help: "Where to write the bundle (must not exist).") var out: String

        func run() throws {
            do {
                let key = try PrivateKeyFile.read(signingKey, what: "release signing key")
                let shipped = try describeBuild()
                guard let version = ReleaseVersion(version ?? shipped.build) else { throw ValidationError("'\(self.version ?? shipped.build)' is not MAJOR.MINOR.PATCH") }
                if version.description != shipped.build {
                    FileHandle.standardError.write(Data("note: release \(version) labels an airlockd built as \(shipped.build)\n".utf8))
                }
                let minimum = try minimumFrom.map { text -> ReleaseVersion in
                    guard let parsed = ReleaseVersion(text) else { throw ValidationError("'\(text)' is not MAJOR.MINOR.PATCH") }
                    return parsed
                } ?? ReleaseVersion("\(version.major).0.0")!
                var sources: [String: String] = [:]
                for (_, path) in BundleManifest.binaries { sources[path] = binDir + "/" + (path as NSString).lastPathComponent }
                if let appliance { try collect(appliance, under: "appliance", into: &sources) }
                if let catalog { sources["catalog/" + (catalog as NSString).lastPathComponent] = catalog }
                let files = try sources.keys.sorted().map { path in
                    try UpgradeBundle.describe(sources[path]!, as: path, executable: path.hasPrefix("bin/") || path.hasSuffix(".sh"))
                }
                let manifest = BundleManifest(version: version, minimumFromVersion: minimum, createdAt: Int64(Date().timeIntervalSince1970),
                                              allowDowngrade: allowDowngrade, migrations: shipped.migrations, files: files)
                try UpgradeBundle.build(manifest: manifest, sources: sources, key: key, output: out)
                let bytes = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? NSNumber)?.int64Value ?? 0
                print("built \(out): release \(version) (from \(minimum) or later), \(files.count) files, \(bytes) bytes, "
                      + "\(shipped.migrations.count) migrations, signed by release key \(KeyID.of(key.publicKey))")
            } catch let error as BundleError {
                throw ValidationError(error.description)
            } catch let error as LicensingError {
                throw ValidationError(error.description)
            }
        }

        private struct Shipped: Decodable { var build: String; var migrations: [String] }

        /// What the airlockd being shipped says about itself.
        private func describeBuild() throws -> Shipped {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binDir + "/airlockd")
            process.arguments = ["version", "--json"]
            let output = Pipe()
            process.standardOutput = output
            do { try process.run() } catch { throw ValidationError("cannot run \(binDir)/airlockd: \(error.localizedDescription)") }
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0, let shipped = try? JSONDecoder().decode(Shipped.self, from: data) else {
                throw ValidationError("\(binDir)/airlockd version --json did not answer; is it an airlockd?")
            }
            return shipped
        }

        /// Every regular file under `folder`, as `prefix/<relative path>`; links and anything else refused.
        private func collect(_ folder: String, under prefix: String, into sources: inout [String: String]) throws {
            guard let enumerator = FileManager.default.enumerator(atPath: folder) else { throw ValidationError("cannot read \(folder)") }
            while let relative = enumerator.nextObject() as? String {
                let full = folder + "/" + relative
                var info = stat()
                guard lstat(full, &info) == 0 else { throw ValidationError("cannot read \(full)") }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: continue
                case S_IFREG: sources[prefix + "/" + relative] = full
                default: throw ValidationError("\(full) is not a regular file; a bundle carries files only")
                }
            }
        }
    }
}
