import AirlockStore
import AirlockTestSupport
import Foundation
import GRDB
import Testing

/// `airlock model` against a real data directory: the catalog is what was added and not removed,
/// every change is audited and bumps the tenancy generation, and bad input is refused with one
/// line and changes nothing.
@Suite struct ModelCommandTests {
    /// Models `meta-llama/Llama-3.1-8B-Instruct` and `smollm2:135m`; org `acme` with env `prod`.
    /// Four audit rows.
    static func appliance() throws -> TemporaryDirectory {
        let dir = try Executables.initializedDataDir()
        for command in [
            ["model", "add", "meta-llama/Llama-3.1-8B-Instruct"], ["model", "add", "smollm2:135m"],
            ["org", "create", "acme"], ["env", "create", "acme", "prod"],
        ] {
            let outcome = try Executables.run("airlock", ["--data-dir", dir.path] + command)
            precondition(outcome.status == 0, "\(command): \(outcome.stderr)")
        }
        return dir
    }

    /// Everything a model command could change, as text: the catalog and the audit log's length.
    static func snapshot(_ dir: TemporaryDirectory) throws -> String {
        try DatabaseQueue(path: dir.child(Store.databaseFileName)).read { db in
            let models = try Row.fetchAll(db, sql: "SELECT * FROM models ORDER BY name").map(\.description)
            let audit = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_log") ?? 0
            return (models + ["audit rows: \(audit)"]).joined(separator: "\n")
        }
    }

    static func generation(_ dir: TemporaryDirectory) throws -> Int {
        try DatabaseQueue(path: dir.child(Store.databaseFileName)).read { db in
            try Int.fetchOne(db, sql: "SELECT value FROM tenancy_generation") ?? -1
        }
    }

    static func names(_ dir: TemporaryDirectory) throws -> [String] {
        let listed = try Executables.airlock(dir.path, "--json", "model", "list")
        #expect(listed.status == 0, "stderr: \(listed.stderr)")
        return try #require(try Executables.json(listed) as? [[String: Any]]).compactMap { $0["name"] as? String }
    }

    // MARK: - The catalog

    @Test func addListAndRemove() throws {
        let dir = try Executables.initializedDataDir()
        let empty = try Executables.airlock(dir.path, "model", "list")
        #expect(empty.status == 0 && empty.stdout == "NAME  ADDED\n")
        #expect(try Self.names(dir) == [])

        for name in ["smollm2:135m", "qwen2.5-7b@v2", "meta-llama/Llama-3.1-8B-Instruct", "Smollm2:135m"] {
            let added = try Executables.airlock(dir.path, "model", "add", name)
            #expect(added.status == 0 && added.stdout == "added model \(name) to the catalog\n", "stderr: \(added.stderr)")
        }
        // By name, bytewise: names are exact and case-sensitive, as clients send them.
        #expect(try Self.names(dir) == ["Smollm2:135m", "meta-llama/Llama-3.1-8B-Instruct", "qwen2.5-7b@v2", "smollm2:135m"])
        let table = try Executables.airlock(dir.path, "model", "list")
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.count == 5 && lines[0].hasPrefix("NAME ") && lines[0].hasSuffix("  ADDED"))
        #expect(lines[2].hasPrefix("meta-llama/Llama-3.1-8B-Instruct  20"))

        let removed = try Executables.airlock(dir.path, "model", "remove", "Smollm2:135m")
        #expect(removed.status == 0 && removed.stdout == "removed model Smollm2:135m from the catalog\n")
        #expect(try Self.names(dir) == ["meta-llama/Llama-3.1-8B-Instruct", "qwen2.5-7b@v2", "smollm2:135m"])
    }

    @Test func jsonIsTheCatalogModel() throws {
        let dir = try Executables.initializedDataDir()
        let added = try Executables.airlock(dir.path, "--json", "model", "add", "qwen2.5-7b@v2")
        #expect(added.status == 0, "stderr: \(added.stderr)")
        let object = try #require(try Executables.json(added) as? [String: Any])
        #expect(Set(object.keys) == ["name", "created_at"] && object["name"] as? String == "qwen2.5-7b@v2")
        let created = try #require(object["created_at"] as? Int)
        #expect(abs(created - Int(Date().timeIntervalSince1970 * 1_000)) < 60_000)

        let listed = try #require(try Executables.json(try Executables.airlock(dir.path, "--json", "model", "list")) as? [[String: Any]])
        #expect(listed.count == 1 && NSDictionary(dictionary: listed[0]) == NSDictionary(dictionary: object))
        let removed = try Executables.airlock(dir.path, "model", "remove", "qwen2.5-7b@v2", "--json")
        #expect(NSDictionary(dictionary: try #require(try Executables.json(removed) as? [String: Any])) == NSDictionary(dictionary: object))
    }

    @Test func changesAreAuditedAndBumpTheTenancyGeneration() throws {
        let dir = try Executables.initializedDataDir()
        let name = "meta-llama/Llama-3.1-8B-Instruct"
        let start = try Self.generation(dir)
        #expect(try Executables.airlock(dir.path, "model", "add", name).status == 0)
        let afterAdd = try Self.generation(dir)
        #expect(afterAdd > start)
        #expect(try Executables.airlock(dir.path, "model", "remove", name).status == 0)
        #expect(try Self.generation(dir) > afterAdd)

        let trail = try #require(try Executables.json(try Executables.airlock(dir.path, "--json", "audit", "list", "--target", name)) as? [[String: Any]])
        #expect(trail.map { $0["action"] as? String } == ["model.add", "model.remove"])
        #expect(trail.allSatisfy { ($0["actor"] as? String ?? "").hasPrefix("cli:") && $0["target_type"] as? String == "model" })
        #expect(trail[0]["before"] == nil && (trail[0]["after"] as? String ?? "").contains("\"name\":\"\(name)\""))
        #expect((trail[1]["before"] as? String ?? "").contains("\"name\":\"\(name)\"") && trail[1]["after"] == nil)
        let verified = try Executables.airlock(dir.path, "audit", "verify")
        #expect(verified.status == 0 && verified.stdout.contains("OK, 2 rows"))
    }

    /// The keys keep the entry; they simply cannot use the model until it is added again.
    @Test func removingAModelThatKeysAllowLeavesTheKeysAlone() throws {
        let dir = try Self.appliance()
        let key = try Executables.airlock(dir.path, "--json", "key", "create", "acme", "prod", "--models", "smollm2:135m")
        let id = try #require((try Executables.json(key) as? [String: Any])?["id"] as? String)
        let removed = try Executables.airlock(dir.path, "model", "remove", "smollm2:135m")
        #expect(removed.status == 0, "stderr: \(removed.stderr)")
        let shown = try #require(try Executables.json(try Executables.airlock(dir.path, "--json", "key", "show", id)) as? [String: Any])
        #expect(shown["allowed_models"] as? [String] == ["smollm2:135m"] && shown["status"] as? String == "active")
        #expect(try Self.names(dir) == ["meta-llama/Llama-3.1-8B-Instruct"])
    }

    @Test func helpSaysWhatTheCatalogIsFor() throws {
        /// Help is wrapped to the terminal; compare words, not lines.
        func words(_ command: String...) throws -> String {
            let help = try Executables.run("airlock", command)
            #expect(help.status == 0, "\(command)")
            return help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        }
        let help = try words("model", "--help")
        #expect(help.contains("models agents may register and clients may request"))
        for command in ["add", "list", "remove"] { #expect(help.contains(command)) }
        let remove = try words("model", "remove", "--help")
        #expect(remove.contains("list it in their allowed models are left as they are: they simply cannot use it"))
        #expect(try Executables.run("airlock", ["--help"]).stdout.contains("model"))
    }

    // MARK: - Hostile input

    @Test(arguments: [
        (["model", "add", ""], "invalid model name ''"),
        (["model", "add", " smollm2:135m"], "invalid model name ' smollm2:135m'"),
        (["model", "add", "smollm2:135m "], "invalid model name 'smollm2:135m '"),
        (["model", "add", "smollm2:135m\u{a0}"], "invalid model name"),
        (["model", "add", "llama\n3"], "invalid model name 'llama\\u{a}3'"),
        (["model", "add", "llama\t3"], "invalid model name 'llama\\u{9}3'"),
        (["model", "add", "llama\u{1b}[31m3"], "invalid model name 'llama\\u{1b}[31m3'"),
        (["model", "add", "llama\u{202e}3"], "invalid model name 'llama\\u{202e}3'"),
        (["model", "add", "llama\u{200b}3"], "invalid model name 'llama\\u{200b}3'"),
        (["model", "add", "llama\u{7f}"], "invalid model name 'llama\\u{7f}'"),
        (["model", "add", String(repeating: "m", count: 257)], "invalid model name"),
        (["model", "add", String(repeating: "é", count: 129)], "invalid model name"),  // 258 bytes
        (["model", "add", String(repeating: "m", count: 10_000)], "invalid model name"),
        (["model", "add", "smollm2:135m"], "model 'smollm2:135m' already exists in the catalog"),
        (["model", "remove", "ghost"], "model 'ghost' not found"),
        (["model", "remove", "SMOLLM2:135M"], "model 'SMOLLM2:135M' not found"),
        (["model", "remove", "smollm2:135m\n"], "model 'smollm2:135m\\u{a}' not found"),
        (["model", "remove", ""], "model '' not found"),
    ])
    func badInputIsOneLineOnStderrAndChangesNothing(arguments: [String], message: String) throws {
        let dir = try Self.appliance()
        let before = try Self.snapshot(dir)
        let generation = try Self.generation(dir)
        let outcome = try Executables.run("airlock", ["--data-dir", dir.path] + arguments)
        #expect(outcome.status != 0)
        #expect(outcome.stdout.isEmpty)
        #expect(outcome.stderr.contains(message), "stderr: \(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1, "stderr: \(outcome.stderr)")
        #expect(!outcome.stderr.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x202e || $0.value == 0x200b })
        #expect(try Self.snapshot(dir) == before)
        #expect(try Self.generation(dir) == generation)
        #expect(try Executables.airlock(dir.path, "audit", "verify").stdout.contains("OK, 4 rows"))
    }

    @Test(arguments: [String(repeating: "m", count: 256), "模型/通义千问-7B", "a", "org_0123456789abcdef", "two words"])
    func unusualButPrintableNamesAreAccepted(name: String) throws {
        let dir = try Executables.initializedDataDir()
        let added = try Executables.airlock(dir.path, "model", "add", name)
        #expect(added.status == 0, "stderr: \(added.stderr)")
        #expect(try Self.names(dir) == [name])
    }

    // MARK: - Shared error reporting

    /// Every command's errors go through `runReportingErrors`, which keeps them one visible line.
    @Test(arguments: [
        (["org", "create", "bad\nname"], "invalid org name 'bad\\u{a}name'"),
        (["org", "create", "bad\u{1b}[2Jname"], "invalid org name 'bad\\u{1b}[2Jname'"),
        (["org", "show", "x\u{202e}y"], "org 'x\\u{202e}y' not found"),
        (["org", "create", "node_0123456789abcdef"], "names may not start with org_, env_, key_ or node_"),
    ])
    func otherCommandsPrintOneEscapedLine(arguments: [String], message: String) throws {
        let dir = try Executables.initializedDataDir()
        let outcome = try Executables.run("airlock", ["--data-dir", dir.path] + arguments)
        #expect(outcome.status != 0 && outcome.stdout.isEmpty)
        #expect(outcome.stderr.contains(message), "stderr: \(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1, "stderr: \(outcome.stderr)")
        #expect(!outcome.stderr.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x202e })
        #expect((try Executables.json(try Executables.airlock(dir.path, "--json", "org", "list")) as? [Any])?.isEmpty == true)
    }
}
