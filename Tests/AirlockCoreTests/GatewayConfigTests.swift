import AirlockCore
import Testing

@Suite struct GatewayConfigTests {
    @Test func readsEnginesGatewayAndCertificate() throws {
        let config = try AirlockConfig.parse("""
            [api]
            tls_certificate = "/etc/airlock/tls/chain.pem"
            tls_private_key = "/etc/airlock/tls/key.pem"
            [gateway]
            zone = "dc-1"
            connect_timeout_ms = 500
            read_timeout_seconds = 60
            [[engines]]
            name = "gpu-01"
            model = "llama-3-8b"
            url = "http://10.0.0.7:8000/"
            capacity_tokens_per_second = 2400
            [[engines]]
            model = "llama-3-8b"
            url = "https://10.0.0.8:8000"
            """, file: "t.toml")
        #expect(config.apiTLS == TLSFiles(certificateChain: "/etc/airlock/tls/chain.pem", privateKey: "/etc/airlock/tls/key.pem"))
        #expect(config.gateway.zone == "dc-1" && config.gateway.connectTimeoutMillis == 500 && config.gateway.readTimeoutSeconds == 60)
        #expect(config.gateway.maxConnectionsPerEngine == 1_024 && !config.gateway.obsoleteIdleConnectionsKey)
        #expect(config.gateway.engineKeepAliveSeconds == 4, "below the 5 s vLLM and SGLang keep idle connections")
        #expect(config.engines == [
            EngineConfig(name: "gpu-01", model: "llama-3-8b", url: "http://10.0.0.7:8000", capacityTokensPerSecond: 2400),
            EngineConfig(name: "engine-2", model: "llama-3-8b", url: "https://10.0.0.8:8000", capacityTokensPerSecond: 1000),
        ])
    }

    @Test func theAdmissionLeaseOutlastsAnySilenceTheReadTimeoutAllows() throws {
        #expect(GatewaySettings().admissionLeaseMillis == 600_000)
        var settings = GatewaySettings()
        // A stream renews a quarter-lease after its last renewal; the engine may then be silent
        // for up to the read timeout, and the lease must still be held when the next chunk comes.
        for seconds in [1, 60, 300, 301, 450, 1_800, 3_600] {
            settings.readTimeoutSeconds = seconds
            let lease = settings.admissionLeaseMillis
            #expect(lease / 4 + Int64(seconds) * 1_000 < lease, "read_timeout_seconds = \(seconds)")
        }
        settings.readTimeoutSeconds = 3_600
        #expect(settings.admissionLeaseMillis == 7_200_000)
    }

    @Test func readsTheConnectionCapAndAcceptsTheObsoleteIdleKey() throws {
        let capped = try AirlockConfig.parse("[gateway]\nmax_connections_per_engine = 3", file: "t.toml")
        #expect(capped.gateway.maxConnectionsPerEngine == 3 && !capped.gateway.obsoleteIdleConnectionsKey)
        // A file written for an earlier release still loads: the old key is noted and ignored.
        let old = try AirlockConfig.parse("[gateway]\nmax_idle_connections_per_engine = 64", file: "t.toml")
        #expect(old.gateway.maxConnectionsPerEngine == 1_024 && old.gateway.obsoleteIdleConnectionsKey)
    }

    @Test(arguments: [
        ("[[engines]]\nurl = \"http://h:1\"", "engines[0].model"),
        ("[[engines]]\nmodel = \"m\"", "engines[0].url"),
        ("[[engines]]\nmodel = \"m\"\nurl = \"ftp://h:1\"", "engines[0].url"),
        ("[[engines]]\nmodel = \"m\"\nurl = \"http://h:1/v1\"", "engines[0].url"),
        ("[[engines]]\nmodel = \"m\"\nurl = \"http://h:1\"\ncapacity_tokens_per_second = 0", "engines[0].capacity_tokens_per_second"),
        ("[[engines]]\nmodel = \"m\"\nurl = \"http://h:1\"\nname = \"a b\"", "engines[0].name"),
        ("[[engines]]\nmodel = \"m\"\nurl = \"http://h:1\"\ngpu = 1", "engines[0].gpu"),
        ("[[engines]]\nname = \"x\"\nmodel = \"m\"\nurl = \"http://h:1\"\n[[engines]]\nname = \"x\"\nmodel = \"m\"\nurl = \"http://h:2\"", "engines"),
        ("engines = 3", "engines"),
        ("[api]\ntls_certificate = \"/c.pem\"", "api.tls_private_key"),
        ("[api]\ntls_certificate = \"c.pem\"\ntls_private_key = \"/k.pem\"", "api.tls_certificate"),
        ("[gateway]\nconnect_timeout_ms = 1", "gateway.connect_timeout_ms"),
        ("[gateway]\nzone = \"\"", "gateway.zone"),
        ("[gateway]\nmax_connections_per_engine = 0", "gateway.max_connections_per_engine"),
        ("[gateway]\nmax_connections_per_engine = 16385", "gateway.max_connections_per_engine"),
        ("[gateway]\nmax_connections_per_engine = \"many\"", "gateway.max_connections_per_engine"),
        ("[gateway]\nmax_idle_connections_per_engine = 0", "gateway.max_idle_connections_per_engine"),
        ("[gateway]\nengine_keepalive_seconds = 0", "gateway.engine_keepalive_seconds"),
    ] as [(String, String)])
    func refusesBadGatewaySettings(text: String, key: String) {
        do {
            _ = try AirlockConfig.parse(text, file: "t.toml")
            Issue.record("accepted: \(text)")
        } catch let error as ConfigError {
            #expect(error.key == key, "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
