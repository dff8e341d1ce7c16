/// How `airlock upgrade` finds the installed releases and restarts the daemon: `[upgrade]` in
/// airlock.toml. The defaults are the appliance's (docs/OPERATIONS.md § Upgrades); tests point
/// `prefix` at a temporary folder and the commands at their own process supervisor.
public struct UpgradeSettings: Equatable, Sendable {
    /// Holds `releases/<version>/` and the `current` link the systemd units start from.
    public var prefix = "/opt/airlock"
    /// Run (no shell) after `current` changes, to start the daemon from the new release.
    public var restartCommand = ["systemctl", "restart", "airlockd.service"]
    /// Run before a pre-upgrade snapshot is put back: the database must not be open meanwhile.
    public var stopCommand = ["systemctl", "stop", "airlockd.service"]
    /// How long the restarted daemon has to answer `/readyz` before the upgrade is rolled back.
    public var readyTimeoutSeconds = 120
    /// A site's own check, run after `/readyz` and the built-in smoke request; a non-zero exit
    /// rolls the upgrade back. Empty: none.
    public var smokeCommand: [String] = []
    /// Development release keys (trusted-keys lines) beside the built-in production ones.
    public var releaseKeyFiles: [String] = []
    /// Releases kept under `releases/` (the current one and the one before it always are).
    public var keepReleases = 3
    /// Where the installed systemd units are. An upgrade never writes there; it compares them
    /// with the current release's and says which differ (`ReleaseUnits`).
    public var unitDirectory = "/etc/systemd/system"

    public init() {}

    mutating func read(_ section: inout TOMLSection) throws {
        if let prefix = try section.string("prefix") {
            guard prefix.hasPrefix("/"), prefix.count > 1 else { throw section.error("prefix", "must be an absolute path, got '\(prefix)'") }
            self.prefix = prefix
        }
        for (key, keyPath) in [("restart_command", \UpgradeSettings.restartCommand), ("stop_command", \UpgradeSettings.stopCommand)] {
            if let command = try section.strings(key) {
                guard let program = command.first, program.hasPrefix("/") || !program.contains("/") else {
                    throw section.error(key, "must be a program (absolute path or a name on PATH) and its arguments")
                }
                self[keyPath: keyPath] = command
            }
        }
        smokeCommand = try section.strings("smoke_command") ?? []
        readyTimeoutSeconds = try section.int("ready_timeout_seconds", in: 5...3_600) ?? readyTimeoutSeconds
        keepReleases = try section.int("keep_releases", in: 2...20) ?? keepReleases
        if let directory = try section.string("unit_directory") {
            guard directory.hasPrefix("/") else { throw section.error("unit_directory", "must be an absolute path, got '\(directory.clipped())'") }
            unitDirectory = directory
        }
        releaseKeyFiles = try section.strings("release_key_files") ?? []
        for file in releaseKeyFiles where !file.hasPrefix("/") {
            throw section.error("release_key_files", "'\(file)' must be an absolute path")
        }
        try section.finish()
    }
}
