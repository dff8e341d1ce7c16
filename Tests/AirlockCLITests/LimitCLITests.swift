import AirlockTestSupport
import Foundation
import Testing

/// `airlock limits` and `airlock reservation` against a real data directory: changes are shown
/// back and audited; bad values are refused with a plain message and change nothing.
@Suite struct LimitCLITests {
    static func acme() throws -> TemporaryDirectory {
        let dir = try Executables.initializedDataDir()
        #expect(try Executables.airlock(dir.path, "org", "create", "acme").status == 0)
        #expect(try Executables.airlock(dir.path, "env", "create", "acme", "prod").status == 0)
        return dir
    }

    @Test func setShowAndAudit() throws {
        let dir = try Self.acme()
        let set = try Executables.airlock(dir.path, "limits", "set", "env", "acme/prod", "--requests-per-minute", "120", "--concurrency", "4")
        #expect(set.status == 0)
        let shown = try Executables.airlock(dir.path, "--json", "limits", "show", "env", "acme/prod")
        #expect(shown.status == 0 && shown.stdout.contains("120"))
        #expect(try Executables.airlock(dir.path, "limits", "set", "env", "acme/prod", "--concurrency", "default").status == 0)
        #expect(try Executables.airlock(dir.path, "reservation", "set", "acme", "llama-3-8b", "250").status == 0)
        let listed = try Executables.airlock(dir.path, "reservation", "list")
        #expect(listed.stdout.contains("llama-3-8b") && listed.stdout.contains("250"))
        let trail = try Executables.airlock(dir.path, "audit", "list")
        #expect(trail.stdout.contains("limits.set") && trail.stdout.contains("reservation.set"))
        #expect(try Executables.airlock(dir.path, "audit", "verify").status == 0)
    }

    @Test(arguments: [
        (["limits", "set", "env", "acme/prod", "--concurrency=-4"], "concurrency must be between 1 and"),
        (["limits", "set", "env", "acme/prod", "--requests-per-minute", "0"], "must be between 1 and"),
        (["limits", "set", "env", "acme/prod", "--tokens-per-day", "lots"], "expected a positive integer or 'default'"),
        (["limits", "set", "env", "acme/prod", "--tokens-per-minute", "99999999999999999999999"], "expected a positive integer or 'default'"),
        (["limits", "set", "env", "acme/prod", "--tokens-per-second", "1e6"], "expected a positive integer or 'default'"),
        (["limits", "set", "env", "acme/prod"], "nothing to change"),
        (["limits", "set", "org", "ghost", "--concurrency", "3"], "org 'ghost' not found"),
        (["limits", "set", "key", "key_0000000000000000", "--concurrency", "3"], "key 'key_0000000000000000' not found"),
        (["reservation", "set", "acme", "llama-3-8b", "0"], "capacity units must be between 1 and"),
        (["reservation", "set", "acme", "bad model", "5"], "invalid model name"),
        (["reservation", "set", "ghost", "llama-3-8b", "5"], "org 'ghost' not found"),
    ])
    func badValuesAreRefusedAndChangeNothing(arguments: [String], message: String) throws {
        let dir = try Self.acme()
        let outcome = try Executables.run("airlock", ["--data-dir", dir.path] + arguments)
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains(message), "stderr: \(outcome.stderr)")
        // Two audit rows (org and env creation), nothing more.
        #expect(try Executables.airlock(dir.path, "audit", "verify").stdout.contains("OK, 2 rows"))
    }
}
