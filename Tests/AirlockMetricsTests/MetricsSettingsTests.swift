import AirlockCore
import Testing

/// `[metrics]` in airlock.toml, read as strictly as every other section.
@Suite struct MetricsSettingsTests {
    @Test func readsTheSectionAndDefaultsToOn() throws {
        #expect(try AirlockConfig.parse("", file: "/etc/airlock/airlock.toml").metrics == MetricsSettings())
        let config = try AirlockConfig.parse("[metrics]\nenabled = false\nscrape_token_file = \"/etc/airlock/metrics.token\"\n",
                                             file: "/etc/airlock/airlock.toml")
        #expect(!config.metrics.enabled)
        #expect(config.metrics.scrapeTokenFile == "/etc/airlock/metrics.token")
    }

    @Test(arguments: [
        ("[metrics]\nscrape_token_file = \"metrics.token\"", "metrics.scrape_token_file", "absolute path"),
        ("[metrics]\nenabled = \"yes\"", "metrics.enabled", "true or false"),
        ("[metrics]\ntoken = \"x\"", "metrics.token", "unknown key"),
    ])
    func refusesBadInput(toml: String, key: String, reason: String) {
        #expect {
            _ = try AirlockConfig.parse(toml, file: "/etc/airlock/airlock.toml")
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.key == key && error.reason.contains(reason)
        }
    }
}
