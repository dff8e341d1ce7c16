import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import GRDB
import Testing

/// `airlock node` against a real data directory: a token is printed once and stored nowhere,
/// every change is audited, and bad input is refused with one line and changes nothing.
@Suite struct NodeCommandTests {
    static var tokenShape: Regex<Substring> { /node_[0-9a-f]{16}\.[A-Za-z0-9_-]{32}/ }

    /// Orgs `acme` (active) and `gone` (revoked); nodes `gpu-1` (acme, zone z1, pending) and
    /// `old` (shared, revoked). Six audit rows.
    static func appliance() throws -> TemporaryDirectory {
        let dir = try Executables.initializedDataDir()
        for command in [
            ["org", "create", "acme"], ["org", "create", "gone"], ["org", "revoke", "gone"],
            ["node", "enroll", "gpu-1", "--org", "acme", "--zone", "z1"], ["node", "enroll", "old"], ["node", "revoke", "old"],
        ] {
            let outcome = try Executables.run("airlock", ["--data-dir", dir.path] + command)
            precondition(outcome.status == 0, "\(command): \(outcome.stderr)")
        }
        return dir
    }

    static func object(_ outcome: Executables.Outcome) throws -> [String: Any] {
        #expect(outcome.status == 0, "stderr: \(outcome.stderr)")
        return try #require(try Executables.json(outcome) as? [String: Any])
    }

    /// Everything a node command could change, as text: nodes (with their token hashes), zones,
    /// and the audit log's length.
    static func snapshot(_ dir: TemporaryDirectory) throws -> String {
        try DatabaseQueue(path: dir.child(Store.databaseFileName)).read { db in
            let nodes = try Row.fetchAll(db, sql: "SELECT * FROM nodes ORDER BY id").map(\.description)
            let zones = try Row.fetchAll(db, sql: "SELECT * FROM zones ORDER BY name").map(\.description)
            let audit = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_log") ?? 0
            return (nodes + zones + ["audit rows: \(audit)"]).joined(separator: "\n")
        }
    }

    static func storedTokenHash(_ dir: TemporaryDirectory, node: String) throws -> String? {
        try DatabaseQueue(path: dir.child(Store.databaseFileName)).read { db in
            try String.fetchOne(db, sql: "SELECT enrol_token_hash FROM nodes WHERE name = ?", arguments: [node])
        }
    }

    // MARK: - Enrolment

    @Test func enrollPrintsTheTokenOnceAndSaysWhereItGoes() throws {
        let dir = try Executables.initializedDataDir()
        let enrolled = try Executables.airlock(dir.path, "node", "enroll", "gpu-7", "--zone", "rack-a")
        #expect(enrolled.status == 0, "stderr: \(enrolled.stderr)")
        let token = String(try #require(enrolled.stdout.firstMatch(of: Self.tokenShape)).output)
        let id = String(token.prefix(while: { $0 != "." }))
        #expect(enrolled.stdout.contains("registered node gpu-7 (\(id))"))
        #expect(enrolled.stdout.contains("org:           shared"))
        #expect(enrolled.stdout.contains("zone:          rack-a"))
        #expect(enrolled.stdout.contains("token expires: "))
        #expect(enrolled.stdout.contains("This token is shown once"))
        #expect(enrolled.stdout.contains("airlock-agent enroll --token TOKEN"))

        // Never again: not in listings, the audit trail, or the database files (only its HMAC is).
        for command in [["node", "list"], ["--json", "node", "list"], ["--json", "node", "show", id], ["--json", "audit", "list"]] {
            let outcome = try Executables.run("airlock", ["--data-dir", dir.path] + command)
            #expect(outcome.status == 0 && !outcome.stdout.contains(token), "\(command)")
        }
        for file in [Store.databaseFileName, Store.databaseFileName + "-wal"] {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: dir.child(file)))) ?? Data()
            #expect(bytes.firstRange(of: Data(token.utf8)) == nil, "\(file) holds the token")
        }
    }

    @Test func enrollAsJSONIsTheIssuedEnrolment() throws {
        let dir = try Self.appliance()
        let acme = try Self.object(try Executables.airlock(dir.path, "--json", "org", "show", "acme"))
        let issued = try Self.object(try Executables.airlock(
            dir.path, "--json", "node", "enroll", "gpu-2", "--org", "acme", "--zone", "z2", "--valid-for", "30m"))
        #expect(Set(issued.keys) == ["node", "token", "expires_at"])
        let node = try #require(issued["node"] as? [String: Any])
        #expect(Set(node.keys) == ["id", "name", "org_id", "zone", "enrolment", "draining", "created_at", "reload_requests"])
        #expect(node["name"] as? String == "gpu-2" && node["zone"] as? String == "z2")
        #expect(node["org_id"] as? String == acme["id"] as? String)
        #expect(node["enrolment"] as? String == "pending" && node["draining"] as? Bool == false)
        let token = try #require(issued["token"] as? String)
        #expect(token.wholeMatch(of: Self.tokenShape) != nil && token.hasPrefix((node["id"] as? String ?? "?") + "."))
        let created = try #require(node["created_at"] as? Int), expires = try #require(issued["expires_at"] as? Int)
        #expect(expires - created == 30 * 60 * 1_000)
    }

    @Test(arguments: [(nil, 86_400), ("1m", 60), ("7d", 604_800), ("30d", 2_592_000), ("+2h", 7_200)])
    func validForSetsTheTokenLifetime(validFor: String?, seconds: Int) throws {
        let dir = try Executables.initializedDataDir()
        let extra = validFor.map { ["--valid-for", $0] } ?? []
        let issued = try Self.object(try Executables.run("airlock", ["--data-dir", dir.path, "--json", "node", "enroll", "gpu"] + extra))
        let node = try #require(issued["node"] as? [String: Any])
        #expect(node["org_id"] == nil)  // shared
        #expect((issued["expires_at"] as? Int ?? 0) - (node["created_at"] as? Int ?? 0) == seconds * 1_000)
    }

    // MARK: - Reading

    @Test func listShowsEnrolmentAndTheDrainFlag() throws {
        let dir = try Self.appliance()
        #expect(try Executables.airlock(dir.path, "node", "drain", "gpu-1").status == 0)
        let table = try Executables.airlock(dir.path, "node", "list")
        #expect(table.status == 0)
        let lines = table.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(lines.first == "NAME ID ORG ZONE ENROLMENT DRAINING LIVE LOAD ENROLLED AT")
        #expect(lines.count == 4)
        #expect(lines[1].hasPrefix("gpu-1 node_") && lines[1].contains(" org_") && lines[1].hasSuffix(" z1 pending yes unknown - -"))
        #expect(lines[2].hasPrefix("old node_") && lines[2].hasSuffix(" shared - revoked no unknown - -"))
        // No daemon, no snapshot: the table says so rather than guessing.
        #expect(lines[3].contains("live state unknown"))

        let listed = try #require(try Executables.json(try Executables.airlock(dir.path, "--json", "node", "list")) as? [[String: Any]])
        #expect(listed.map { $0["name"] as? String } == ["gpu-1", "old"])
        #expect(listed.map { $0["enrolment"] as? String } == ["pending", "revoked"])
        #expect(listed.map { $0["draining"] as? Bool } == [true, false])

        let fresh = try Executables.initializedDataDir()
        let empty = try Executables.airlock(fresh.path, "--json", "node", "list")
        #expect(empty.status == 0)
        #expect(try (Executables.json(empty) as? [Any])?.isEmpty == true)
    }

    @Test func helpSaysLiveStateIsTheDaemons() throws {
        let help = try Executables.run("airlock", ["node", "--help"])
        #expect(help.status == 0 && help.stdout.contains("daemon's snapshot"))
        for command in [["node", "list", "--help"], ["node", "show", "--help"]] {
            let help = try Executables.run("airlock", command)
            #expect(help.status == 0 && help.stdout.contains("live state"), "\(command)")
        }
        let top = try Executables.run("airlock", ["--help"])
        #expect(top.stdout.contains("node"))
    }

    /// The agent's side of enrolment (issue D) writes the node as `redeemEnrolment` does; here the
    /// test does that write itself so that `show` has a certificate to print.
    @Test func showByNameOrIdIncludesTheCertificateFingerprintButNeverTheToken() async throws {
        let dir = try Self.appliance()
        let pendingHash = try #require(try Self.storedTokenHash(dir, node: "gpu-1"))
        let fingerprint = String(repeating: "ab", count: 32)
        do {
            let store = try Store(dataDirectory: dir.path)
            try await store.write { tx in
                guard var node = try tx.reader.node(named: "gpu-1") else { throw AirlockError.notFound(kind: "node", reference: "gpu-1") }
                node.enrolment = .enrolled
                node.enrolledAt = UnixMillis(1_800_000_000_000)
                node.certificateSHA256 = fingerprint
                try tx.update(node)
            }
        }
        let byName = try Self.object(try Executables.airlock(dir.path, "--json", "node", "show", "gpu-1"))
        let id = try #require(byName["id"] as? String)
        let byID = try Self.object(try Executables.airlock(dir.path, "--json", "node", "show", id))
        #expect(NSDictionary(dictionary: byName) == NSDictionary(dictionary: byID))
        #expect(byName["certificate_sha256"] as? String == fingerprint)
        #expect(byName["enrolled_at"] as? Int == 1_800_000_000_000 && byName["enrolment"] as? String == "enrolled")
        #expect(!byName.keys.contains { $0.contains("token") || $0.contains("hash") })

        let text = try Executables.airlock(dir.path, "node", "show", "GPU-1")  // names are case-insensitive
        #expect(text.status == 0)
        for line in ["id:                 \(id)", "name:               gpu-1", "zone:               z1", "enrolment:          enrolled",
                     "draining:           no", "enrolled:           2027-01-15T08:00:00.000Z", "certificate sha256: \(fingerprint)"] {
            #expect(text.stdout.contains(line), "missing '\(line)' in:\n\(text.stdout)")
        }
        for command in [["node", "list"], ["--json", "node", "list"], ["node", "show", "gpu-1"], ["--json", "audit", "list"]] {
            let outcome = try Executables.run("airlock", ["--data-dir", dir.path] + command)
            #expect(!outcome.stdout.contains(pendingHash), "\(command) shows the token hash")
        }
    }

    // MARK: - Changes and their audit rows

    @Test func drainResumeAndRevokeAreAudited() throws {
        let dir = try Self.appliance()
        let id = try #require(try Self.object(try Executables.airlock(dir.path, "--json", "node", "show", "gpu-1"))["id"] as? String)
        let drained = try Executables.airlock(dir.path, "node", "drain", "gpu-1")
        #expect(drained.status == 0 && drained.stdout == "node gpu-1 (\(id)) is draining\n")
        let resumed = try Self.object(try Executables.airlock(dir.path, "--json", "node", "resume", id))
        #expect(resumed["draining"] as? Bool == false && resumed["enrolment"] as? String == "pending")
        let revoked = try Executables.airlock(dir.path, "node", "revoke", id)
        #expect(revoked.status == 0 && revoked.stdout == "node gpu-1 (\(id)) is revoked\n")
        // Revoking withdraws the unused token: its hash is gone from the row.
        #expect(try Self.storedTokenHash(dir, node: "gpu-1") == nil)

        let trail = try #require(try Executables.json(try Executables.airlock(dir.path, "--json", "audit", "list", "--target", id)) as? [[String: Any]])
        #expect(trail.map { $0["action"] as? String } == ["node.enroll", "node.drain", "node.resume", "node.revoke"])
        #expect(trail.allSatisfy { ($0["actor"] as? String ?? "").hasPrefix("cli:") && $0["target_type"] as? String == "node" })
        #expect((trail[1]["before"] as? String ?? "").contains("\"draining\":false"))
        #expect((trail[1]["after"] as? String ?? "").contains("\"draining\":true"))
        #expect((trail[3]["after"] as? String ?? "").contains("\"enrolment\":\"revoked\""))
        let verified = try Executables.airlock(dir.path, "audit", "verify")
        #expect(verified.status == 0 && verified.stdout.contains("OK, 9 rows"))
    }

    // MARK: - Hostile input

    @Test(arguments: [
        (["node", "show", "ghost"], "node 'ghost' not found"),
        (["node", "show", "node_0000000000000000"], "node 'node_0000000000000000' not found"),
        (["node", "drain", "ghost"], "node 'ghost' not found"),
        (["node", "resume", "ghost"], "node 'ghost' not found"),
        (["node", "revoke", "node_0000000000000000"], "node 'node_0000000000000000' not found"),
        (["node", "enroll", "bad name"], "invalid node name 'bad name'"),
        (["node", "enroll", String(repeating: "a", count: 64)], "invalid node name"),
        (["node", "enroll", String(repeating: "a", count: 10_000)], "invalid node name"),
        (["node", "enroll", "gpu\n2"], "invalid node name 'gpu\\u{a}2'"),
        (["node", "enroll", "gpu\u{1b}[31m2"], "invalid node name 'gpu\\u{1b}[31m2'"),
        (["node", "enroll", "gpu\u{202e}2"], "invalid node name 'gpu\\u{202e}2'"),
        (["node", "enroll", "gpu\u{7f}"], "invalid node name 'gpu\\u{7f}'"),
        (["node", "enroll", "gpü"], "invalid node name"),
        (["node", "enroll", "node_0123456789abcdef"], "names may not start with org_, env_, key_ or node_"),
        (["node", "enroll", "gpu-2", "--zone", "bad zone"], "invalid zone name 'bad zone'"),
        (["node", "enroll", "gpu-2", "--org", "ghost"], "org 'ghost' not found"),
        (["node", "enroll", "gpu-2", "--org", "gone"], "is revoked; nothing new can be created under it"),
        (["node", "enroll", "gpu-1"], "node 'gpu-1' already exists"),
        (["node", "enroll", "GPU-1", "--zone", "z9"], "node 'GPU-1' already exists"),
        (["node", "enroll", "gpu-2", "--valid-for", "0m"], "between 1 minute and 30 days"),
        (["node", "enroll", "gpu-2", "--valid-for=-5m"], "between 1 minute and 30 days"),
        (["node", "enroll", "gpu-2", "--valid-for", "31d"], "between 1 minute and 30 days"),
        (["node", "enroll", "gpu-2", "--valid-for", "9999999999999999d"], "between 1 minute and 30 days"),
        (["node", "enroll", "gpu-2", "--valid-for", "99999999999999999999d"], "invalid --valid-for"),
        (["node", "enroll", "gpu-2", "--valid-for", "0"], "invalid --valid-for '0'"),
        (["node", "enroll", "gpu-2", "--valid-for", "soon"], "invalid --valid-for 'soon'"),
        (["node", "enroll", "gpu-2", "--valid-for", "1.5h"], "invalid --valid-for '1.5h'"),
        (["node", "enroll", "gpu-2", "--valid-for", ""], "invalid --valid-for ''"),
        (["node", "revoke", "old"], "node old is already revoked"),
        (["node", "drain", "old"], "node old is revoked"),
        (["node", "resume", "old"], "node old is revoked"),
    ])
    func badInputIsOneLineOnStderrAndChangesNothing(arguments: [String], message: String) throws {
        let dir = try Self.appliance()
        let before = try Self.snapshot(dir)
        let outcome = try Executables.run("airlock", ["--data-dir", dir.path] + arguments)
        #expect(outcome.status != 0)
        #expect(outcome.stdout.isEmpty)
        #expect(outcome.stderr.contains(message), "stderr: \(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1, "stderr: \(outcome.stderr)")
        #expect(!outcome.stderr.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x202e })
        #expect(try Self.snapshot(dir) == before)
        #expect(try Executables.airlock(dir.path, "audit", "verify").stdout.contains("OK, 6 rows"))
    }
}
