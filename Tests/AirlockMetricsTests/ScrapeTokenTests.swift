import AirlockCore
import AirlockMetrics
import AirlockTestSupport
import Foundation
import Testing

@Suite struct ScrapeTokenTests {
    @Test func theDaemonMakesItsOwnTokenOnceWithMode0600() throws {
        let dir = TemporaryDirectory()
        let token = try ScrapeToken.load(MetricsSettings(), dataDirectory: dir.path)
        let path = ScrapeToken.path(dataDirectory: dir.path)
        let secret = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(secret.hasPrefix("alk_metrics_") && secret.count == 12 + 64)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        #expect(token.accepts(["Bearer " + secret]))
        _ = try ScrapeToken.load(MetricsSettings(), dataDirectory: dir.path)
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains(secret), "a second start keeps the token")
    }

    @Test func onlyTheExactBearerHeaderIsAccepted() throws {
        let dir = TemporaryDirectory()
        let file = dir.child("scrape.token")
        let secret = String(repeating: "s3cret-", count: 6)
        try Data((secret + "\n").utf8).write(to: URL(fileURLWithPath: file))
        var settings = MetricsSettings()
        settings.scrapeTokenFile = file
        let token = try ScrapeToken.load(settings, dataDirectory: dir.path)
        #expect(token.accepts(["Bearer " + secret]))
        #expect(!FileManager.default.fileExists(atPath: ScrapeToken.path(dataDirectory: dir.path)), "a configured file: none made")
        let refusals: [[String]] = [[], ["Bearer " + String(secret.dropLast())], ["Basic " + secret], [secret], ["bearer " + secret],
                                    ["Bearer " + secret, "Bearer " + secret]]
        for refused in refusals {
            #expect(!token.accepts(refused))
        }
    }

    @Test func aConfiguredTokenMustBeLongAndPresent() throws {
        let dir = TemporaryDirectory()
        var settings = MetricsSettings()
        settings.scrapeTokenFile = dir.child("missing.token")
        #expect(throws: AirlockError.self) { try ScrapeToken.load(settings, dataDirectory: dir.path) }
        settings.scrapeTokenFile = dir.child("short.token")
        try Data("short\n".utf8).write(to: URL(fileURLWithPath: dir.child("short.token")))
        #expect(throws: AirlockError.self) { try ScrapeToken.load(settings, dataDirectory: dir.path) }
    }
}
