// swift-tools-version:6.1
// Pins the protoc plugins that generate Sources/AirlockNodeProtocol/Generated (see scripts/generate-protos).
// The versions match the runtime libraries in ../../Package.swift; change both together.
import PackageDescription
let package = Package(
    name: "airlock-protoc-plugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "2.4.1"),
    ],
    targets: []
)
