import Foundation

extension AirlockConfig {
    /// The configuration every executable starts from, with the documented precedence:
    /// config file = `--config`, else `$AIRLOCK_CONFIG`, else `/etc/airlock/airlock.toml` if it
    /// exists, else built-in defaults; data dir = `--data-dir`, else `$AIRLOCK_DATA_DIR`, else the
    /// file's `data_dir`.
    public static func resolve(
        configFlag: String?, dataDirFlag: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> AirlockConfig {
        var config = try load(path: filePath(configFlag: configFlag, environment: environment))
        if let dir = dataDirFlag ?? environment["AIRLOCK_DATA_DIR"], !dir.isEmpty {
            config.dataDir = URL(fileURLWithPath: dir).standardizedFileURL.path
            if let reason = dataDirProblem(config.dataDir) {
                throw ConfigError(file: dataDirFlag != nil ? "--data-dir" : "$AIRLOCK_DATA_DIR", key: "", reason: "\(config.dataDir) \(reason)")
            }
        }
        return config
    }

    /// The configuration file that precedence picks, if any (what `resolve` reads, and what a
    /// backup keeps).
    public static func filePath(configFlag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        configFlag ?? environment["AIRLOCK_CONFIG"] ?? (FileManager.default.fileExists(atPath: defaultPath) ? defaultPath : nil)
    }
}
