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
        let path = configFlag ?? environment["AIRLOCK_CONFIG"]
            ?? (FileManager.default.fileExists(atPath: defaultPath) ? defaultPath : nil)
        var config = try load(path: path)
        if let dir = dataDirFlag ?? environment["AIRLOCK_DATA_DIR"], !dir.isEmpty {
            config.dataDir = URL(fileURLWithPath: dir).standardizedFileURL.path
        }
        return config
    }
}
