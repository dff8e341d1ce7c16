import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One redis-benchmark run's figures.
struct BenchRun {
    var rps: Double
    var p50Micros: Double
    var p99Micros: Double

    /// Reads redis-benchmark's `--csv` output: a header line naming the columns
    /// (`"test","rps",…,"p50_latency_ms",…,"p99_latency_ms",…`) and one row of quoted numbers.
    init(csv: String) throws {
        let lines = csv.split(whereSeparator: \.isNewline).map(String.init)
        guard let headerAt = lines.firstIndex(where: { $0.hasPrefix("\"test\"") }), headerAt + 1 < lines.count else {
            throw RedisPeerError("redis-benchmark printed no CSV result:\n\(csv)")
        }
        func fields(_ line: String) -> [String] {
            line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        let header = fields(lines[headerAt])
        // The test name holds the command line, which has no commas here; take the numbers from
        // the right so that a comma in it could not shift them.
        let values = Array(fields(lines[headerAt + 1]).suffix(header.count - 1))
        func number(_ column: String) throws -> Double {
            guard let at = header.firstIndex(of: column), at >= 1, let value = Double(values[at - 1]) else {
                throw RedisPeerError("redis-benchmark CSV has no \(column): \(lines[headerAt + 1])")
            }
            return value
        }
        rps = try number("rps")
        p50Micros = try number("p50_latency_ms") * 1000
        p99Micros = try number("p99_latency_ms") * 1000
    }
}

/// Where the Debian redis-server package put its programs.
struct RedisTools {
    var server: String
    var cli: String
    var benchmark: String

    static func locate() throws -> RedisTools {
        func find(_ name: String) -> String? {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
            return (["/usr/bin"] + path.split(separator: ":").map(String.init))
                .map { "\($0)/\(name)" }
                .first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        guard let server = find("redis-server") ?? serverFromTools(find("redis-check-rdb")),
              let cli = find("redis-cli"), let benchmark = find("redis-benchmark")
        else {
            throw RedisPeerError("the Redis side needs redis-server (or redis-check-rdb), redis-cli and redis-benchmark: "
                + "install them (`apt-get install -y redis-tools`) or pass --lmdb-only")
        }
        return RedisTools(server: server, cli: cli, benchmark: benchmark)
    }

    /// Debian's redis-tools ships the server binary as `redis-check-rdb`; it runs as a server
    /// when started under the name `redis-server` (Debian's redis-server package is only that
    /// symlink plus a system service, which a benchmark has no business installing). So a
    /// symlink by that name in a scratch directory is enough.
    private static func serverFromTools(_ checkRDB: String?) -> String? {
        guard let checkRDB else { return nil }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-bench-redis-bin-\(getuid())").path
        let link = directory + "/redis-server"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: link)
        guard (try? FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: checkRDB)) != nil else { return nil }
        return link
    }
}

/// A throwaway `redis-server` on 127.0.0.1, a child of this process, with persistence off (the
/// LMDB side runs MDB_NOSYNC, so neither side waits for a disk).
final class RedisServer {
    let tools: RedisTools
    let port: Int
    private let process: Process
    private let directory: String
    private var signalSources: [DispatchSourceSignal] = []
    private(set) var version = "?"

    private init(tools: RedisTools, port: Int, process: Process, directory: String) {
        self.tools = tools
        self.port = port
        self.process = process
        self.directory = directory
    }

    /// Starts the server on a free port and waits until it answers PING. A port taken between
    /// choosing and binding makes the server exit at once; then another port is tried.
    static func start(_ tools: RedisTools) throws -> RedisServer {
        var lastError: Error = RedisPeerError("redis-server did not start")
        for _ in 0..<3 {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-bench-redis-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let port = try freeLoopbackPort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tools.server)
            process.arguments = ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no",
                                 "--daemonize", "no", "--dir", directory, "--logfile", "\(directory)/redis.log"]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let server = RedisServer(tools: tools, port: port, process: process, directory: directory)
            server.stopOnSignals()
            do {
                try server.waitUntilReady()
                return server
            } catch {
                server.stop()
                lastError = error
            }
        }
        throw lastError
    }

    /// Polls `redis-cli PING` for up to 10 s; fails early, with the server's log, if it exits.
    private func waitUntilReady() throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            guard process.isRunning else {
                let log = (try? String(contentsOfFile: "\(directory)/redis.log", encoding: .utf8)) ?? ""
                throw RedisPeerError("redis-server exited on start (port \(port)):\n\(log.suffix(2_000))")
            }
            if (try? cli(["PING"])) == ["PONG"] {
                let info = try cli(["INFO", "server"])
                // INFO ends its lines with CRLF, which Swift keeps as one Character: split on any newline.
                version = info.flatMap { $0.split(whereSeparator: \.isNewline) }.first { $0.hasPrefix("redis_version:") }
                    .map { String($0.dropFirst("redis_version:".count)) } ?? "?"
                return
            }
            usleep(50_000)
        }
        throw RedisPeerError("redis-server on port \(port) did not answer PING within 10 s")
    }

    /// Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its directory. Safe to
    /// call more than once.
    func stop() {
        signalSources.forEach { $0.cancel() }
        signalSources = []
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `defer` does not run when the benchmark is interrupted, so Ctrl-C or a SIGTERM (a timeout)
    /// kills the server first, then exits as the signal would have.
    private func stopOnSignals() {
        let pid = process.processIdentifier
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                kill(pid, SIGKILL)
                exit(128 + signalNumber)
            }
            source.setCancelHandler { signal(signalNumber, SIG_DFL) }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Runs one command through redis-cli; returns its reply, one line per element (redis-cli's
    /// output when not on a terminal). An error reply is thrown.
    @discardableResult
    func cli(_ arguments: [String]) throws -> [String] {
        let result = try runTool(tools.cli, ["-h", "127.0.0.1", "-p", String(port)] + arguments)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLast(result.stdout.hasSuffix("\n") ? 1 : 0)
        let errorPrefixes = ["ERR", "NOSCRIPT", "WRONGTYPE", "BUSY", "Could not connect", "Error:"]
        if result.status != 0 || lines.first.map({ line in errorPrefixes.contains { line.hasPrefix($0) } }) == true {
            throw RedisPeerError("redis-cli \(arguments.prefix(2).joined(separator: " ")) failed: \(result.stdout)\(result.stderr)")
        }
        return Array(lines)
    }

    func loadScript(_ source: String) throws -> String {
        let reply = try cli(["SCRIPT", "LOAD", source])
        guard reply.count == 1, reply[0].count == 40 else { throw RedisPeerError("SCRIPT LOAD replied \(reply)") }
        return reply[0]
    }

    func sum(hashValuesOf key: String) throws -> Int {
        try cli(["HVALS", key]).reduce(0) { $0 + (Int($1) ?? 0) }
    }

    /// One timed redis-benchmark run of `command`: `requests` calls from `clients` connections,
    /// each waiting for its reply (no pipelining), `__rand_int__` drawn from 0..<keyspace.
    func benchmark(_ command: [String], requests: Int, clients: Int, keyspace: Int) throws -> BenchRun {
        let result = try runTool(tools.benchmark, ["-h", "127.0.0.1", "-p", String(port), "-n", String(requests), "-c", String(clients),
                                                   "-r", String(keyspace), "--csv"] + command)
        // redis-benchmark exits 1 when the server answered with an error (e.g. a script error).
        guard result.status == 0 else {
            throw RedisPeerError("redis-benchmark \(command.prefix(2).joined(separator: " ")) failed (\(result.status)): \(result.stderr.prefix(2_000))")
        }
        return try BenchRun(csv: result.stdout)
    }
}

/// Runs a program to completion, collecting stdout and stderr (stderr on another thread, so a
/// full pipe on either side cannot stall the program).
func runTool(_ path: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // The reader thread fills the box; the semaphore orders its write before our read.
    final class Collected: @unchecked Sendable { var data = Data() }
    let errData = Collected()
    let errDone = DispatchSemaphore(value: 0)
    let errHandle = err.fileHandleForReading
    DispatchQueue.global().async {
        errData.data = errHandle.readDataToEndOfFile()
        errDone.signal()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    errDone.wait()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData.data, as: UTF8.self))
}

/// A port on 127.0.0.1 nobody is listening on: bind port 0, read what the kernel chose, close.
private func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RedisPeerError("socket() failed: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw RedisPeerError("could not find a free loopback port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
