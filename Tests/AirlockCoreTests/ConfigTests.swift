import AirlockCore
import AirlockTestSupport
import Foundation
import Testing

@Suite struct ConfigTests {
    static let shippedConfig = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("appliance/airlock.toml").path

    @Test func shippedConfigMatchesBuiltInDefaults() throws {
        #expect(try AirlockConfig.load(path: Self.shippedConfig) == AirlockConfig())
    }

    @Test func missingFileMeansDefaults() throws {
        #expect(try AirlockConfig.load(path: nil) == AirlockConfig())
    }

    @Test func readsEveryDocumentedKey() throws {
        let config = try AirlockConfig.parse("""
            data_dir = "/srv/airlock"
            [api]
            listen = "[::1]:18443"
            hostnames = ["api.example"]
            request_read_timeout_seconds = 20
            [agents]
            listen = "127.0.0.1:19443"
            hostnames = ["gpu-gw.example"]
            [license]
            vendor_key_files = ["/etc/airlock/dev-vendor.pub"]
            clock_tolerance_seconds = 60
            [keys]
            rotation_grace_seconds = 0
            [ledger]
            batch_max_rows = 64
            min_commit_interval_ms = 0
            [limits]
            max_tokens_per_request = 4096
            max_request_bytes = 65536
            [limits.key]
            tokens_per_second = 50
            tokens_per_day = 1000000
            """, file: "t.toml")
        #expect(config.dataDir == "/srv/airlock")
        #expect(config.apiListen == ListenAddress(host: "::1", port: 18443))
        #expect(config.agentListen.port == 19443)
        #expect(config.apiHostnames == ["api.example"] && config.agentHostnames == ["gpu-gw.example"])
        #expect(config.apiRequestReadTimeoutSeconds == 20 && AirlockConfig().apiRequestReadTimeoutSeconds == 60)
        #expect(config.licenseVendorKeyFiles == ["/etc/airlock/dev-vendor.pub"] && config.licenseClockToleranceSeconds == 60)
        #expect(config.keyRotationGraceSeconds == 0)
        #expect(config.ledgerBatchMaxRows == 64 && config.ledgerMinCommitIntervalMillis == 0)
        #expect(AirlockConfig().ledgerMinCommitIntervalMillis == 2)
        #expect(config.limits.maxTokensPerRequest == 4096)
        // A layer table replaces that layer whole: what is not written is unlimited.
        #expect(config.limits.key == LimitSet(tokensPerSecond: 50, tokensPerDay: 1_000_000))
        #expect(config.limits.org == AirlockConfig().limits.org)
    }

    @Test(arguments: [
        ("data_dirr = \"/x\"", "data_dirr", "unknown key"),
        ("[api]\nlisten = \"0.0.0.0:8443\"\nport = 1", "api.port", "unknown key"),
        ("[limits.key]\ntokens_per_minut = 5", "limits.key.tokens_per_minut", "unknown key"),
        ("[limits.mystery]\nconcurrency = 5", "limits.mystery", "unknown key"),
        ("[limits.key]\nconcurrency = 0", "limits.key.concurrency", "out of range"),
        ("[limits.key]\nconcurrency = -3", "limits.key.concurrency", "out of range"),
        ("[limits.key]\nconcurrency = \"10\"", "limits.key.concurrency", "expected an integer"),
        ("[ledger]\nbatch_max_rows = 1.5", "ledger.batch_max_rows", "expected an integer"),
        ("[ledger]\nmin_commit_interval_ms = -1", "ledger.min_commit_interval_ms", "out of range"),
        ("[ledger]\nmin_commit_interval_ms = 5000", "ledger.min_commit_interval_ms", "out of range"),
        ("[keys]\nrotation_grace_seconds = 99999999", "keys.rotation_grace_seconds", "out of range"),
        ("data_dir = \"relative/path\"", "data_dir", "absolute path"),
        ("data_dir = 5", "data_dir", "expected a string"),
        ("data_dir = \"/\(String(repeating: "d", count: 92))\"", "data_dir",
         "is too long: the daemon's admin socket /\(String(repeating: "d", count: 92))/run/admin.sock would be 108 bytes"),
        ("api = 5", "api", "expected a table"),
        ("[api]\nlisten = \"8443\"", "api.listen", "host:port"),
        ("[api]\nlisten = \"0.0.0.0:70000\"", "api.listen", "port must be"),
        ("[api]\nlisten = \"::1:8443\"", "api.listen", "bracket"),
        ("[agents]\nlisten = \":9443\"", "agents.listen", "missing host"),
        ("[api]\nhostnames = [\"a b\"]", "api.hostnames", "not a host name"),
        ("[agents]\nhostnames = [\"\"]", "agents.hostnames", "not a host name"),
        ("[api]\nrequest_read_timeout_seconds = 0", "api.request_read_timeout_seconds", "out of range"),
        ("[api]\nrequest_read_timeout_seconds = 3601", "api.request_read_timeout_seconds", "out of range"),
        ("[license]\nvendor_key_files = [\"dev.pub\"]", "license.vendor_key_files", "absolute path"),
        ("[license]\nkeys = 1", "license.keys", "unknown key"),
        ("[license]\nclock_tolerance_seconds = -1", "license.clock_tolerance_seconds", "out of range"),
        ("[upgrade]\nprefix = \"opt/airlock\"", "upgrade.prefix", "absolute path"),
        ("[upgrade]\nrestart_command = []", "upgrade.restart_command", "must be a program"),
        ("[upgrade]\nstop_command = [\"bin/stop\"]", "upgrade.stop_command", "must be a program"),
        ("[upgrade]\nready_timeout_seconds = 1", "upgrade.ready_timeout_seconds", "out of range"),
        ("[upgrade]\nkeep_releases = 1", "upgrade.keep_releases", "out of range"),
        ("[upgrade]\nunit_directory = \"etc/systemd/system\"", "upgrade.unit_directory", "absolute path"),
        ("[upgrade]\nrelease_key_files = [\"release.pub\"]", "upgrade.release_key_files", "absolute path"),
        ("[upgrade]\nrestart = [\"x\"]", "upgrade.restart", "unknown key"),
    ])
    func rejectsBadInputNamingFileKeyAndReason(toml: String, key: String, reason: String) {
        #expect {
            _ = try AirlockConfig.parse(toml, file: "/etc/airlock/airlock.toml")
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.file == "/etc/airlock/airlock.toml" && error.key == key && error.reason.contains(reason)
        }
    }

    @Test func readsTheUpgradeSection() throws {
        let config = try AirlockConfig.parse("""
            [upgrade]
            prefix = "/srv/airlock-releases"
            restart_command = ["/usr/local/sbin/restart-airlock", "--now"]
            stop_command = ["airlock-stop"]
            ready_timeout_seconds = 30
            smoke_command = ["/usr/local/sbin/site-smoke"]
            release_key_files = ["/etc/airlock/dev-release.pub"]
            keep_releases = 5
            unit_directory = "/run/test-units"
            """, file: "t")
        #expect(config.upgrade.prefix == "/srv/airlock-releases")
        #expect(config.upgrade.restartCommand == ["/usr/local/sbin/restart-airlock", "--now"] && config.upgrade.stopCommand == ["airlock-stop"])
        #expect(config.upgrade.readyTimeoutSeconds == 30 && config.upgrade.keepReleases == 5)
        #expect(config.upgrade.smokeCommand == ["/usr/local/sbin/site-smoke"])
        #expect(config.upgrade.releaseKeyFiles == ["/etc/airlock/dev-release.pub"])
        #expect(config.upgrade.unitDirectory == "/run/test-units" && AirlockConfig().upgrade.unitDirectory == "/etc/systemd/system")
    }

    @Test func syntaxErrorNamesTheLine() {
        #expect {
            _ = try AirlockConfig.parse("data_dir = \"/x\"\n[api\nlisten = 1", file: "bad.toml")
        } throws: { error in
            (error as? ConfigError).map { $0.file == "bad.toml" && $0.reason.contains("line 2") } ?? false
        }
    }

    @Test func unreadableFileIsAConfigError() {
        #expect(throws: ConfigError.self) { try AirlockConfig.load(path: "/nonexistent/airlock.toml") }
    }

    @Test func dataDirPrecedenceIsFlagThenEnvironmentThenFile() throws {
        let dir = TemporaryDirectory()
        let file = dir.child("airlock.toml")
        try "data_dir = \"/from/file\"".write(toFile: file, atomically: true, encoding: .utf8)
        let env = ["AIRLOCK_CONFIG": file, "AIRLOCK_DATA_DIR": "/from/env"]
        #expect(try AirlockConfig.resolve(configFlag: nil, dataDirFlag: "/from/flag", environment: env).dataDir == "/from/flag")
        #expect(try AirlockConfig.resolve(configFlag: nil, dataDirFlag: nil, environment: env).dataDir == "/from/env")
        #expect(try AirlockConfig.resolve(configFlag: file, dataDirFlag: nil, environment: [:]).dataDir == "/from/file")
    }

    /// The admin socket `<data_dir>/run/admin.sock` must fit a Unix socket's 107 bytes, whichever
    /// way the data directory is given; 92 bytes of directory is one too many.
    @Test func aDataDirTooLongForTheAdminSocketIsRefusedFromFlagAndEnvironmentToo() throws {
        let fits = "/" + String(repeating: "d", count: 91), tooLong = "/" + String(repeating: "d", count: 92)
        #expect(try AirlockConfig.resolve(configFlag: nil, dataDirFlag: fits, environment: [:]).dataDir == fits)
        for (flag, environment, source) in [(tooLong, [String: String](), "--data-dir"), (nil, ["AIRLOCK_DATA_DIR": tooLong], "$AIRLOCK_DATA_DIR")] {
            #expect(throws: ConfigError(file: source, key: "", reason: "\(tooLong) is too long: the daemon's admin socket "
                                        + "\(tooLong)/run/admin.sock would be 108 bytes, and a Unix socket's path holds at most 107")) {
                try AirlockConfig.resolve(configFlag: nil, dataDirFlag: flag, environment: environment)
            }
        }
    }
}
