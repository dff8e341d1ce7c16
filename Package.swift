// swift-tools-version:6.1
import PackageDescription

// One module per subsystem; data flows one way (docs/ARCHITECTURE.md is the map):
// AirlockCore <- AirlockStore <- AirlockIdentity <- AirlockAdmin <- executables.
let package = Package(
    name: "Airlock",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "airlockd", targets: ["airlockd"]),
        .executable(name: "airlock", targets: ["airlock"]),
        .executable(name: "airlock-bench", targets: ["airlock-bench"]),
        .executable(name: "airlock-sim", targets: ["airlock-sim"]),
        .executable(name: "airlock-agent", targets: ["airlock-agent"]),
        .executable(name: "airlock-vendor", targets: ["airlock-vendor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Domain types, configuration, errors. No I/O beyond reading the config file.
        .target(
            name: "AirlockCore",
            dependencies: [.product(name: "TOMLKit", package: "TOMLKit")]
        ),
        // SQLite through GRDB: migrations, tenancy rows, the usage ledger and the audit log.
        .target(
            name: "AirlockStore",
            dependencies: [
                "AirlockCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // System library over liblmdb (Debian's liblmdb-dev). AirlockCounters wraps it (issue B).
        .systemLibrary(
            name: "CLMDB",
            providers: [.apt(["liblmdb-dev"])]
        ),
        // LMDB environment, sliding windows, token buckets, concurrency leases: the hot counters.
        .target(name: "AirlockCounters", dependencies: ["AirlockCore", "CLMDB"]),
        // The four-layer policy: limits, quotas, reserved capacity, shedding -> admit / refuse.
        .target(name: "AirlockAdmission", dependencies: ["AirlockCore", "AirlockCounters", "AirlockStore"]),
        // API key format, keyed hashing and the in-memory key -> identity resolver.
        .target(
            name: "AirlockIdentity",
            dependencies: [
                "AirlockCore",
                "AirlockStore",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The service layer behind every admin action; CLI, admin API and dashboard call it.
        .target(
            name: "AirlockAdmin",
            dependencies: [
                "AirlockCore", "AirlockStore", "AirlockIdentity", "AirlockLicensing",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // Licences, offline activation and the appliance identity (issue E): signed files only,
        // no network, no storage but files in the data dir.
        .target(name: "AirlockLicensing", dependencies: ["AirlockCore", .product(name: "Crypto", package: "swift-crypto")]),
        // The appliance's TLS identity: the self-signed certificate made on first boot, or the
        // customer's; fingerprints for operators.
        .target(
            name: "AirlockCertificates",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The OpenAI-compatible surface: validation, errors, engine proxy, streaming accounting.
        .target(
            name: "AirlockGateway",
            dependencies: [
                "AirlockCore", "AirlockStore", "AirlockIdentity", "AirlockAdmission", "AirlockScheduler",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // `/admin/v1/*`: the admin API over AdminActions, sessions, the local admin credential.
        .target(
            name: "AirlockAdminAPI",
            dependencies: [
                "AirlockCore", "AirlockStore", "AirlockAdmin", "AirlockLicensing",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The local dashboard: server-rendered HTML pages and SVG charts over the admin API's
        // sessions and AdminActions; every asset embedded, no script.
        .target(
            name: "AirlockDashboard",
            dependencies: [
                "AirlockCore", "AirlockStore", "AirlockAdmin", "AirlockAdminAPI", "AirlockLicensing",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // What a release is, apart from how it is installed: the signed bundle manifest and the
        // trusted release keys. Light enough for the node agent, which checks its own upgrades.
        .target(
            name: "AirlockReleases",
            dependencies: ["AirlockCore", "AirlockLicensing", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Backups and upgrade bundles (issue F): the data dir in one ZIP with its keys sealed by an
        // operator passphrase; signed release bundles, the releases/ + current layout, apply with
        // a journal and automatic rollback.
        .target(
            name: "AirlockBundles",
            dependencies: [
                "AirlockCore", "AirlockStore", "AirlockLicensing", "AirlockReleases",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // The agent ↔ daemon protocol: Protos/ and the Swift code generated from it (committed;
        // ./scripts/generate-protos regenerates it).
        .target(
            name: "AirlockNodeProtocol",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // The node registry's live state machine (joining → active → draining → dead) and placement:
        // which node serves a request, prefix affinity, failover order. Pure and in-memory.
        .target(
            name: "AirlockScheduler",
            dependencies: ["AirlockCore"]
        ),
        // `/metrics`: the Prometheus registry behind swift-metrics, the scrape-time gauges (nodes,
        // ledger, licence) and the text exposition (issue H).
        .target(
            name: "AirlockMetrics",
            dependencies: [
                "AirlockCore", "AirlockScheduler",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The daemon's side of port 9443 and of enrolment: the NodeControl gRPC service over mutual
        // TLS (certificates checked against the node rows), and the one-time enrolment exchange.
        .target(
            name: "AirlockNodeControl",
            dependencies: [
                "AirlockCore", "AirlockStore", "AirlockAdmin", "AirlockCertificates", "AirlockScheduler",
                "AirlockNodeProtocol",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What runs on a GPU host: enrolment, the NodeControl stream (register, heartbeats, metrics,
        // commands), nvidia-smi readings, engine supervision.
        .target(
            name: "AirlockAgent",
            dependencies: [
                "AirlockCore", "AirlockNodeProtocol", "AirlockCertificates", "AirlockReleases", "AirlockLicensing",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The simulated GPU engine behind airlock-sim: OpenAI-compatible, with a configurable
        // token rate, time to first token and failures. The only stand-in the tests allow.
        .target(
            name: "AirlockSimulator",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "airlockd",
            dependencies: [
                "AirlockCore", "AirlockStore", "AirlockIdentity", "AirlockAdmission", "AirlockCounters",
                "AirlockGateway", "AirlockCertificates", "AirlockScheduler", "AirlockNodeControl", "AirlockNodeProtocol", "AirlockAdmin", "AirlockLicensing",
                "AirlockAdminAPI", "AirlockDashboard", "AirlockMetrics",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .executableTarget(
            name: "airlock-agent",
            dependencies: [
                "AirlockAgent", "AirlockCore", "AirlockReleases", "AirlockLicensing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "airlock-sim",
            dependencies: [
                "AirlockSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "airlock",
            dependencies: [
                "AirlockCore",
                "AirlockStore",
                "AirlockIdentity",
                "AirlockAdmin",
                "AirlockLicensing",
                "AirlockBundles",
                "AirlockAdmission",
                "AirlockCounters",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        // The vendor's side of licensing and releases (issue licences, activate requests, build
        // signed bundles). Never ships on the appliance; it shares only the file formats with it.
        .executableTarget(
            name: "airlock-vendor",
            dependencies: [
                "AirlockCore",
                "AirlockLicensing",
                "AirlockBundles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "airlock-bench",
            dependencies: [
                "AirlockCore",
                "AirlockStore",
                "AirlockCounters",
                "AirlockAdmission",
                "AirlockScheduler",
                "AirlockGateway",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
            ]
        ),
        // Shared by the test targets only: temporary data dirs, a hand-moved clock, tampering.
        .target(
            name: "AirlockTestSupport",
            dependencies: ["AirlockCore", "AirlockStore", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Tests/AirlockTestSupport"
        ),
        .testTarget(name: "AirlockCoreTests", dependencies: ["AirlockCore", "AirlockTestSupport"]),
        .testTarget(name: "AirlockLicensingTests", dependencies: ["AirlockLicensing", "AirlockTestSupport",
                                                                 .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "AirlockStoreTests", dependencies: ["AirlockStore", "AirlockTestSupport"]),
        .testTarget(name: "CLMDBTests", dependencies: ["CLMDB", "AirlockTestSupport"]),
        .testTarget(name: "AirlockCountersTests", dependencies: ["AirlockCounters", "AirlockTestSupport"]),
        .testTarget(
            name: "AirlockAdmissionTests",
            dependencies: ["AirlockAdmission", "AirlockCounters", "AirlockAdmin", "AirlockIdentity", "AirlockTestSupport"]
        ),
        .testTarget(name: "AirlockIdentityTests", dependencies: ["AirlockIdentity", "AirlockAdmin", "AirlockTestSupport"]),
        .testTarget(name: "AirlockAdminTests", dependencies: ["AirlockAdmin", "AirlockLicensing", "AirlockTestSupport",
                                                             .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "AirlockSchedulerTests", dependencies: ["AirlockScheduler", "AirlockTestSupport"]),
        .testTarget(name: "AirlockMetricsTests", dependencies: ["AirlockMetrics", "AirlockScheduler", "AirlockTestSupport",
                                                               .product(name: "Metrics", package: "swift-metrics")]),
        .testTarget(
            name: "AirlockNodeControlTests",
            dependencies: ["AirlockNodeControl", "AirlockAdmin", "AirlockCertificates", "AirlockIdentity", "AirlockScheduler", "AirlockStore",
                           "AirlockTestSupport", .product(name: "Logging", package: "swift-log"),
                           .product(name: "X509", package: "swift-certificates")]
        ),
        .testTarget(
            name: "AirlockAgentTests", dependencies: ["AirlockAgent", "AirlockTestSupport"], resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "AirlockCertificatesTests",
            dependencies: ["AirlockCertificates", "AirlockTestSupport", .product(name: "X509", package: "swift-certificates")]
        ),
        .testTarget(
            name: "AirlockGatewayTests",
            dependencies: [
                "AirlockGateway", "AirlockSimulator", "AirlockCertificates", "AirlockAdmin", "AirlockAdmission", "AirlockScheduler",
                "AirlockCounters", "AirlockIdentity", "AirlockTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]
        ),
        .testTarget(
            name: "AirlockBundlesTests",
            dependencies: ["AirlockBundles", "AirlockReleases", "AirlockStore", "AirlockCore", "AirlockLicensing", "AirlockTestSupport",
                           .product(name: "ZIPFoundation", package: "ZIPFoundation"), .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "AirlockAdminAPITests",
            dependencies: [
                "AirlockAdminAPI", "AirlockDashboard", "AirlockAdmin", "AirlockCore", "AirlockStore", "AirlockIdentity", "AirlockTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "AirlockCLITests",
            dependencies: [
                "airlock", "airlockd", "airlock-bench", "airlock-sim", "airlock-agent", "airlock-vendor", "AirlockStore", "AirlockTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ]
)
