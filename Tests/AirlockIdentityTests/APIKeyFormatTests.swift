import AirlockIdentity
import AirlockTestSupport
import Foundation
import Testing

@Suite struct APIKeyFormatTests {
    @Test func generatedKeysHaveTheDocumentedShape() {
        let keys = (0..<500).map { _ in APIKeyFormat.generate() }
        #expect(Set(keys).count == 500)
        for key in keys {
            #expect(key.count == 42)
            #expect(key.hasPrefix("alk_"))
            #expect(APIKeyFormat.displayPrefix(of: key) == String(key.prefix(12)))
        }
    }

    @Test func anyOneCharacterChangeFailsTheChecksum() {
        let key = APIKeyFormat.generate()
        var caught = 0, total = 0
        for index in 4..<key.count {
            var chars = Array(key)
            chars[index] = chars[index] == "a" ? "b" : "a"
            total += 1
            if APIKeyFormat.displayPrefix(of: String(chars)) == nil { caught += 1 }
        }
        #expect(caught == total)
    }

    @Test(arguments: [
        "", "alk_", "sk-proj-abcdef", "ALK_" + String(repeating: "a", count: 38),
        "alk_" + String(repeating: "a", count: 37), "alk_" + String(repeating: "a", count: 39),
        "alk_" + String(repeating: "é", count: 38), "alk_" + String(repeating: "-", count: 38),
        "alk_" + String(repeating: "a", count: 32) + "000000", " alk_" + String(repeating: "a", count: 37),
    ])
    func malformedKeysAreRefusedBeforeAnyLookup(text: String) {
        #expect(APIKeyFormat.displayPrefix(of: text) == nil)
    }
}

@Suite struct KeyHasherTests {
    @Test func theSecretIsCreatedOncePrivatelyAndReused() throws {
        let dir = TemporaryDirectory()
        let first = try KeyHasher.loadOrCreate(dataDirectory: dir.path)
        let second = try KeyHasher.loadOrCreate(dataDirectory: dir.path)
        #expect(first.hash("alk_x") == second.hash("alk_x"))
        let path = KeyHasher.secretPath(dataDirectory: dir.path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func differentAppliancesHashTheSameKeyDifferently() throws {
        let a = try KeyHasher.loadOrCreate(dataDirectory: TemporaryDirectory().path)
        let b = try KeyHasher.loadOrCreate(dataDirectory: TemporaryDirectory().path)
        #expect(a.hash("alk_same") != b.hash("alk_same"))
    }

    @Test func aDamagedSecretIsRefusedNotReplaced() throws {
        let dir = TemporaryDirectory()
        _ = try KeyHasher.loadOrCreate(dataDirectory: dir.path)
        let path = KeyHasher.secretPath(dataDirectory: dir.path)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        #expect { try KeyHasher.loadOrCreate(dataDirectory: dir.path) } throws: { "\($0)".contains("expected 32") }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 3)
    }
}
