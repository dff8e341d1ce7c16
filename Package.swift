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
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
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
            dependencies: ["AirlockCore", "AirlockStore", "AirlockIdentity"]
        ),
        .executableTarget(
            name: "airlockd",
            dependencies: [
                "AirlockCore",
                "AirlockStore",
                "AirlockIdentity",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "airlock",
            dependencies: [
                "AirlockCore",
                "AirlockStore",
                "AirlockIdentity",
                "AirlockAdmin",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "airlock-bench",
            dependencies: [
                "AirlockCore",
                "AirlockStore",
                "AirlockCounters",
                "AirlockAdmission",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Shared by the test targets only: temporary data dirs, a hand-moved clock, tampering.
        .target(
            name: "AirlockTestSupport",
            dependencies: ["AirlockCore", "AirlockStore", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Tests/AirlockTestSupport"
        ),
        .testTarget(name: "AirlockCoreTests", dependencies: ["AirlockCore", "AirlockTestSupport"]),
        .testTarget(name: "AirlockStoreTests", dependencies: ["AirlockStore", "AirlockTestSupport"]),
        .testTarget(name: "CLMDBTests", dependencies: ["CLMDB", "AirlockTestSupport"]),
        .testTarget(name: "AirlockCountersTests", dependencies: ["AirlockCounters", "AirlockTestSupport"]),
        .testTarget(
            name: "AirlockAdmissionTests",
            dependencies: ["AirlockAdmission", "AirlockCounters", "AirlockAdmin", "AirlockIdentity", "AirlockTestSupport"]
        ),
        .testTarget(name: "AirlockIdentityTests", dependencies: ["AirlockIdentity", "AirlockAdmin", "AirlockTestSupport"]),
        .testTarget(name: "AirlockAdminTests", dependencies: ["AirlockAdmin", "AirlockTestSupport"]),
        .testTarget(
            name: "AirlockCLITests",
            dependencies: [
                "airlock", "airlockd", "airlock-bench", "AirlockStore", "AirlockTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ]
)
