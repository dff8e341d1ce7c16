import AirlockTestSupport
import Foundation

/// Runs the built `airlock`, `airlockd` and `airlock-bench` binaries as an operator would.
enum Executables {
    /// The build products directory: beside the test bundle, which SwiftPM builds with the
    /// executables (this target depends on them).
    static let binDirectory: URL = {
        var candidates = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        candidates.append(Bundle.main.bundleURL)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug"))
        for directory in candidates where FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("airlock").path) {
            return directory
        }
        fatalError("cannot find the airlock binary near \(candidates)")
    }()

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `binary` with `arguments`, feeding `input` to stdin, and waits for it.
    static func run(_ binary: String, _ arguments: [String], input: String? = nil, environment: [String: String] = [:]) throws -> Outcome {
        let process = Process()
        process.executableURL = binDirectory.appendingPathComponent(binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "AIRLOCK_DATA_DIR")
        env.removeValue(forKey: "AIRLOCK_CONFIG")
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe(), err = Pipe(), inp = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inp
        try process.run()
        if let input { inp.fileHandleForWriting.write(Data(input.utf8)) }
        try inp.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// `airlock --data-dir DIR ARGS…`
    static func airlock(_ dataDir: String, _ arguments: String..., input: String? = nil) throws -> Outcome {
        try run("airlock", ["--data-dir", dataDir] + arguments, input: input)
    }

    /// A temporary data directory prepared by `airlockd init`, as an installer would.
    static func initializedDataDir() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        let outcome = try run("airlockd", ["init", "--data-dir", dir.path])
        precondition(outcome.status == 0, "airlockd init failed: \(outcome.stderr)")
        return dir
    }

    static func json(_ outcome: Outcome) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8))
    }
}
