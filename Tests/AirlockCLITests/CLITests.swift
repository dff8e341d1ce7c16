import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

@Suite struct CLITests {
    @Test func everyExecutableAnswersHelp() throws {
        for binary in ["airlock", "airlockd", "airlock-bench"] {
            let outcome = try Executables.run(binary, ["--help"])
            #expect(outcome.status == 0)
            #expect(outcome.stdout.contains("USAGE"))
        }
    }

    @Test func createsOrgEnvAndKeyAndPrintsTheSecretOnceAsJSON() throws {
        let dir = try Executables.initializedDataDir()
        #expect(try Executables.airlock(dir.path, "org", "create", "acme").status == 0)
        #expect(try Executables.airlock(dir.path, "env", "create", "acme", "prod").status == 0)
        let created = try Executables.airlock(dir.path, "--json", "key", "create", "acme", "prod", "--name", "ci", "--models", "m1,m2", "--expires", "30d")
        #expect(created.status == 0)
        let object = try #require(try Executables.json(created) as? [String: Any])
        let id = try #require(object["id"] as? String)
        let secret = try #require(object["key"] as? String)
        #expect(id.hasPrefix("key_") && secret.hasPrefix("alk_"))
        #expect(object["allowed_models"] as? [String] == ["m1", "m2"])
        #expect(object["display_prefix"] as? String == String(secret.prefix(12)))

        // Listings never show the secret again.
        let listed = try Executables.airlock(dir.path, "--json", "key", "list", "--org", "acme")
        #expect(listed.status == 0 && listed.stdout.contains(id) && !listed.stdout.contains(secret))
        let identified = try Executables.airlock(dir.path, "key", "identify", input: secret + "\n")
        #expect(identified.status == 0 && identified.stdout.contains(id))

        let rotated = try Executables.airlock(dir.path, "--json", "key", "rotate", id, "--grace", "0")
        let newSecret = try #require((try Executables.json(rotated) as? [String: Any])?["key"] as? String)
        #expect(newSecret != secret)
        #expect(try Executables.airlock(dir.path, "key", "revoke", id).status == 0)
        let resumed = try Executables.airlock(dir.path, "key", "resume", id)
        #expect(resumed.status == 1 && resumed.stderr.contains("revoked"))

        let audit = try Executables.airlock(dir.path, "audit", "verify")
        #expect(audit.status == 0 && audit.stdout.contains("OK, 5 rows"))
        let trail = try Executables.airlock(dir.path, "audit", "list", "--target", id)
        #expect(trail.stdout.contains("key.create") && trail.stdout.contains("key.rotate") && trail.stdout.contains("key.revoke"))
    }

    @Test(arguments: [
        (["org", "create", "acme"], "already exists"),
        (["org", "create", "bad name"], "invalid org name"),
        (["org", "suspend", "ghost"], "org 'ghost' not found"),
        (["env", "create", "ghost", "prod"], "org 'ghost' not found"),
        (["env", "show", "acme/ghost"], "env 'acme/ghost' not found"),
        (["key", "create", "acme", "ghost"], "env 'acme/ghost' not found"),
        (["key", "create", "acme", "prod", "--expires", "yesterday"], "invalid expiry"),
        (["key", "create", "acme", "prod", "--expires", "2001-01-01"], "in the past"),
        (["key", "create", "acme", "prod", "--models", "a,,b"], "invalid model name"),
        (["key", "revoke", "key_0000000000000000"], "key 'key_0000000000000000' not found"),
        (["key", "revoke", "alk_notanid"], "is not a key id"),
        (["key", "rotate", "key_0000000000000000", "--grace=-5"], "grace must be"),
        (["key", "create", "other", "acme/prod"], "env 'acme/prod' not found"),
        (["audit", "list", "--limit", "0"], "--limit must be"),
    ])
    func badInputGetsAClearMessageAndNonZeroExit(arguments: [String], message: String) throws {
        let dir = try Executables.initializedDataDir()
        _ = try Executables.airlock(dir.path, "org", "create", "acme")
        _ = try Executables.airlock(dir.path, "env", "create", "acme", "prod")
        _ = try Executables.airlock(dir.path, "org", "create", "other")
        let outcome = try Executables.run("airlock", ["--data-dir", dir.path] + arguments)
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains(message), "stderr was: \(outcome.stderr)")
        #expect(!outcome.stderr.contains("Fatal error"))
    }

    @Test func identifyRefusesAMalformedOrUnknownSecret() throws {
        let dir = try Executables.initializedDataDir()
        let malformed = try Executables.airlock(dir.path, "key", "identify", input: "sk-not-ours\n")
        #expect(malformed.status == 1 && malformed.stderr.contains("not an Airlock API key"))
        let empty = try Executables.airlock(dir.path, "key", "identify", input: "")
        #expect(empty.status == 1 && empty.stderr.contains("no key"))
    }

    @Test func ledgerVerifyNamesTheFirstBadSeq() async throws {
        let dir = TemporaryDirectory()
        do {
            let store = try Store(dataDirectory: dir.path)
            let appender = LedgerAppender(store: store, maxBatch: 8)
            for index in 0..<30 { _ = try await appender.append(Samples.usage(index)) }
        }
        let intact = try Executables.airlock(dir.path, "ledger", "verify")
        #expect(intact.status == 0 && intact.stdout.contains("OK, 30 rows"))

        let database = dir.child(Store.databaseFileName)
        try Tampering.run(databasePath: database, table: "usage_ledger", "UPDATE usage_ledger SET cost_micros = 1 WHERE seq = 17")
        let broken = try Executables.airlock(dir.path, "ledger", "verify")
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("BROKEN at seq 17"))
        let json = try #require(try Executables.json(try Executables.airlock(dir.path, "--json", "ledger", "verify")) as? [String: Any])
        #expect((json["first_break"] as? [String: Any])?["seq"] as? Int == 17)
    }

    @Test func auditVerifyCatchesADeletedRow() throws {
        let dir = try Executables.initializedDataDir()
        for name in ["a", "b", "c", "d"] { _ = try Executables.airlock(dir.path, "org", "create", name) }
        try Tampering.run(databasePath: dir.child(Store.databaseFileName), table: "audit_log", "DELETE FROM audit_log WHERE seq = 2")
        let broken = try Executables.airlock(dir.path, "audit", "verify")
        #expect(broken.status == 1 && broken.stdout.contains("BROKEN at seq 2") && broken.stdout.contains("missing"))
    }

    @Test func aMistypedDataDirIsAnErrorNotANewAppliance() throws {
        let dir = TemporaryDirectory()
        let outcome = try Executables.airlock(dir.child("typo"), "org", "list")
        #expect(outcome.status == 1 && outcome.stderr.contains("no Airlock database"))
        #expect(!FileManager.default.fileExists(atPath: dir.child("typo")))
    }

    @Test func aLostKeyHashingSecretIsReportedNotRegenerated() throws {
        let dir = try Executables.initializedDataDir()
        _ = try Executables.airlock(dir.path, "org", "create", "acme")
        _ = try Executables.airlock(dir.path, "env", "create", "acme", "prod")
        _ = try Executables.airlock(dir.path, "key", "create", "acme", "prod")
        try FileManager.default.removeItem(atPath: dir.child("secrets/key-hashing.secret"))
        let outcome = try Executables.airlock(dir.path, "key", "list")
        #expect(outcome.status == 1 && outcome.stderr.contains("restore it from the backup"))
        #expect(!FileManager.default.fileExists(atPath: dir.child("secrets/key-hashing.secret")))
    }

    @Test func theAuditActorIsTheEffectiveUserWithSudoOnlyAsALabelledClaim() throws {
        let dir = try Executables.initializedDataDir()
        _ = try Executables.run("airlock", ["--data-dir", dir.path, "org", "create", "acme"], environment: ["SUDO_USER": "mallory"])
        let trail = try Executables.airlock(dir.path, "--json", "audit", "list")
        let rows = try #require(try Executables.json(trail) as? [[String: Any]])
        let actor = try #require(rows.first?["actor"] as? String)
        #expect(actor.hasPrefix("cli:") && actor.hasSuffix("(SUDO_USER=mallory)"))
        #expect(!actor.hasPrefix("cli:mallory"))
    }

    @Test func dataDirComesFromTheEnvironmentToo() throws {
        let dir = try Executables.initializedDataDir()
        let created = try Executables.run("airlock", ["org", "create", "envorg"], environment: ["AIRLOCK_DATA_DIR": dir.path])
        #expect(created.status == 0)
        #expect(try Executables.airlock(dir.path, "org", "show", "envorg").status == 0)
    }
}

@Suite struct DaemonCLITests {
    @Test func checkConfigAcceptsTheShippedFile() throws {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("appliance/airlock.toml").path
        let outcome = try Executables.run("airlockd", ["check-config", "--config", shipped])
        #expect(outcome.status == 0 && outcome.stdout.contains("configuration OK"))
    }

    @Test func aBadConfigStopsTheDaemonNamingFileKeyAndReason() throws {
        let dir = TemporaryDirectory()
        let file = dir.child("airlock.toml")
        try "[limits.key]\ntokens_per_minut = 5\n".write(toFile: file, atomically: true, encoding: .utf8)
        let outcome = try Executables.run("airlockd", ["check-config", "--config", file])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("\(file): limits.key.tokens_per_minut: unknown key"))
        // The CLI refuses the same file the same way.
        let cli = try Executables.run("airlock", ["--config", file, "--data-dir", dir.path, "org", "list"])
        #expect(cli.status == 1 && cli.stderr.contains("unknown key"))
    }

    @Test func initPreparesADataDirectory() throws {
        let dir = TemporaryDirectory()
        let outcome = try Executables.run("airlockd", ["init", "--data-dir", dir.child("fresh")])
        #expect(outcome.status == 0 && outcome.stdout.contains("migrations applied"))
    }
}

/// The hash-chain format in docs/SECURITY.md is what Airlock writes: an independent verifier
/// written from the document alone (scripts/verify-chains.py, Python standard library) agrees
/// with `airlock ledger verify` on intact and on tampered chains.
@Suite struct IndependentVerifierTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/verify-chains.py").path

    static func runVerifier(_ database: String) throws -> Executables.Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, database]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Executables.Outcome(status: process.terminationStatus, stdout: String(decoding: data, as: UTF8.self), stderr: "")
    }

    /// An appliance with three audit rows and 25 ledger rows, some with null and non-ASCII fields.
    static func populated() async throws -> TemporaryDirectory {
        let dir = try Executables.initializedDataDir()
        _ = try Executables.airlock(dir.path, "org", "create", "acme")
        _ = try Executables.airlock(dir.path, "env", "create", "acme", "prod")
        _ = try Executables.airlock(dir.path, "key", "create", "acme", "prod", "--models", "m1")
        do {
            let appender = LedgerAppender(store: try Store(dataDirectory: dir.path), maxBatch: 8)
            for index in 0..<25 {
                var record = Samples.usage(index)
                record.finishReason = index % 3 == 0 ? nil : "stop ✓"  // nulls and non-ASCII too
                record.failover = index % 4 == 1
                _ = try await appender.append(record)
            }
        }
        return dir
    }

    @Test func agreesWithAirlockOnAnIntactChain() async throws {
        let dir = try await Self.populated()
        let intact = try Self.runVerifier(dir.child(Store.databaseFileName))
        #expect(intact.status == 0, "\(intact.stdout)")
        #expect(intact.stdout.contains("usage_ledger: OK, 25 rows") && intact.stdout.contains("audit_log: OK, 3 rows"))
        #expect(try Executables.airlock(dir.path, "ledger", "verify").status == 0)
    }

    @Test(arguments: [
        ("UPDATE usage_ledger SET node = 'gpu-99' WHERE seq = 11", 11),
        ("DELETE FROM usage_ledger WHERE seq = 5", 5),
        ("UPDATE usage_ledger SET prev_hash = (SELECT hash FROM usage_ledger WHERE seq = 2) WHERE seq = 8", 8),
        ("UPDATE usage_ledger SET finish_reason = NULL WHERE seq = 20", 20),
        ("UPDATE usage_ledger SET failover = 1 - failover WHERE seq = 13", 13),
        ("UPDATE usage_ledger SET format = 1 WHERE seq = 17", 17),
    ])
    func agreesWithAirlockOnWhereAChainBreaks(tampering: String, seq: Int) async throws {
        let dir = try await Self.populated()
        let database = dir.child(Store.databaseFileName)
        try Tampering.run(databasePath: database, table: "usage_ledger", tampering)
        let independent = try Self.runVerifier(database)
        #expect(independent.status == 1 && independent.stdout.contains("usage_ledger: BROKEN at seq \(seq)"), "\(independent.stdout)")
        let airlock = try Executables.airlock(dir.path, "ledger", "verify")
        #expect(airlock.status == 1 && airlock.stdout.contains("BROKEN at seq \(seq)"), "\(airlock.stdout)")
    }

    @Test func anAuditorVerifiesACopyWithoutTheAppliancesSecrets() async throws {
        let dir = try await Self.populated()
        let copy = TemporaryDirectory()
        try FileManager.default.copyItem(atPath: dir.child(Store.databaseFileName), toPath: copy.child(Store.databaseFileName))
        for command in [["ledger", "verify"], ["audit", "verify"], ["audit", "list"]] {
            let outcome = try Executables.run("airlock", ["--data-dir", copy.path] + command)
            #expect(outcome.status == 0, "\(command): \(outcome.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: copy.child("secrets")))
    }
}
