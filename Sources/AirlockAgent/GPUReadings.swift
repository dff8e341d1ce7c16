import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One GPU as `nvidia-smi` reports it. A figure is nil when the driver cannot give it (`[N/A]`,
/// `[Not Supported]`, e.g. memory on a MIG-enabled card or the temperature of a consumer one).
public struct GPUReading: Sendable, Equatable {
    public var index: UInt32
    public var name: String
    public var temperatureCelsius: Double?
    public var memoryUsedMiB: UInt64?
    public var memoryTotalMiB: UInt64?
    public var utilizationPercent: Double?

    public init(index: UInt32, name: String, temperatureCelsius: Double?, memoryUsedMiB: UInt64?,
                memoryTotalMiB: UInt64?, utilizationPercent: Double?) {
        self.index = index
        self.name = name
        self.temperatureCelsius = temperatureCelsius
        self.memoryUsedMiB = memoryUsedMiB
        self.memoryTotalMiB = memoryTotalMiB
        self.utilizationPercent = utilizationPercent
    }
}

/// `nvidia-smi` output that is not what the query asks for; `line` counts from 1.
public struct GPUReadingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var reason: String

    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }

    public var description: String { "nvidia-smi output line \(line): \(reason)" }
}

/// The one query the agent sends to `nvidia-smi` and the reader of its CSV answer.
public enum NvidiaSMI {
    /// The columns, in the order `parse` expects them.
    static let columns = ["index", "name", "temperature.gpu", "memory.used", "memory.total", "utilization.gpu"]

    public static let arguments = ["--query-gpu=" + columns.joined(separator: ","), "--format=csv,noheader,nounits"]

    /// Reads one GPU per line. Lenient about layout (spaces after commas, CRLF, blank lines, a
    /// header line, units after the numbers), strict about content: a line with the wrong number
    /// of columns or a figure that is not a number is an error, never a silent zero, because a
    /// wrong VRAM figure would mislead placement.
    public static func parse(_ output: String) throws(GPUReadingError) -> [GPUReading] {
        var readings: [GPUReading] = []
        var pastFirstLine = false
        // Split on "\n" only, so that line numbers are those an editor shows; a CR is trimmed.
        let lines = output.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        for (offset, scalars) in lines.enumerated() {
            let number = offset + 1
            let line = String(scalars).trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if !pastFirstLine, fields.first?.lowercased() == "index" {
                try checkHeader(fields, line: number)
                pastFirstLine = true
                continue
            }
            pastFirstLine = true
            let reading = try reading(fields, line: number)
            if readings.contains(where: { $0.index == reading.index }) {
                throw GPUReadingError(line: number, reason: "GPU index \(reading.index) appears twice")
            }
            readings.append(reading)
        }
        return readings
    }

    private static func checkHeader(_ fields: [String], line: Int) throws(GPUReadingError) {
        // "memory.used [MiB]" → "memory.used": the header may carry units.
        let names = fields.map { $0.split(separator: " ").first.map(String.init)?.lowercased() ?? "" }
        guard names == columns else {
            throw GPUReadingError(line: line, reason: "header names \(names.joined(separator: ", ")), expected \(columns.joined(separator: ", "))")
        }
    }

    private static func reading(_ fields: [String], line: Int) throws(GPUReadingError) -> GPUReading {
        guard fields.count == columns.count else {
            throw GPUReadingError(line: line, reason: "\(fields.count) columns, expected \(columns.count)")
        }
        guard let index = UInt32(digits: fields[0]) else {
            throw GPUReadingError(line: line, reason: "index \"\(fields[0])\" is not a number")
        }
        guard !fields[1].isEmpty, !isNotAvailable(fields[1]) else {
            throw GPUReadingError(line: line, reason: "GPU \(index) has no name")
        }
        return GPUReading(
            index: index,
            name: fields[1],
            temperatureCelsius: try decimal(fields[2], column: "temperature.gpu", unit: nil, line: line),
            memoryUsedMiB: try mebibytes(fields[3], column: "memory.used", line: line),
            memoryTotalMiB: try mebibytes(fields[4], column: "memory.total", line: line),
            utilizationPercent: try percent(fields[5], line: line)
        )
    }

    /// `[N/A]`, `[Not Supported]`, `[Unknown Error]`…: the driver's ways of saying "no figure".
    private static func isNotAvailable(_ field: String) -> Bool {
        field == "N/A" || (field.hasPrefix("[") && field.hasSuffix("]"))
    }

    /// The field without the unit `--format=csv` (without `nounits`) appends, e.g. "81920 MiB".
    private static func stripping(_ unit: String?, from field: String) -> String {
        guard let unit, field.hasSuffix(unit) else { return field }
        return field.dropLast(unit.count).trimmingCharacters(in: .whitespaces)
    }

    private static func mebibytes(_ field: String, column: String, line: Int) throws(GPUReadingError) -> UInt64? {
        if isNotAvailable(field) { return nil }
        guard let value = UInt64(digits: stripping("MiB", from: field)) else {
            throw GPUReadingError(line: line, reason: "\(column) \"\(field)\" is not a whole number of MiB")
        }
        return value
    }

    private static func percent(_ field: String, line: Int) throws(GPUReadingError) -> Double? {
        guard let value = try decimal(field, column: "utilization.gpu", unit: "%", line: line) else { return nil }
        guard (0...100).contains(value) else {
            throw GPUReadingError(line: line, reason: "utilization.gpu \(field) is outside 0–100")
        }
        return value
    }

    private static func decimal(_ field: String, column: String, unit: String?, line: Int) throws(GPUReadingError) -> Double? {
        if isNotAvailable(field) { return nil }
        let text = stripping(unit, from: field)
        // Double(_:) also takes "nan", "inf" and hex floats; nvidia-smi prints plain decimals.
        let plain = !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isNumber || $0 == "." || $0 == "-") }
        guard plain, let value = Double(text), value.isFinite else {
            throw GPUReadingError(line: line, reason: "\(column) \"\(field)\" is not a number")
        }
        return value
    }
}

extension FixedWidthInteger where Self: UnsignedInteger {
    /// Only ASCII digits: `init?(_: String)` would also take a leading "+".
    fileprivate init?(digits: some StringProtocol) {
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        self.init(digits, radix: 10)
    }
}

/// What one look at the GPUs found. The probe never throws: the agent reports what it could.
public enum GPUProbeResult: Sendable, Equatable {
    case readings([GPUReading])
    /// No `nvidia-smi` on this host (no GPUs, e.g. CI): not a fault.
    case unavailable(String)
    /// `nvidia-smi` is there but did not answer usefully: timed out, failed or printed nonsense.
    case failed(String)
}

/// Runs `nvidia-smi` once per `read()`, with a time limit: a wedged driver can make it hang, and
/// a heartbeat must not wait on it.
public struct GPUProbe: Sendable {
    /// nil: the first `nvidia-smi` on `PATH`.
    public var executable: String?
    public var timeout: Duration

    public init(executable: String? = nil, timeout: Duration = .seconds(5)) {
        self.executable = executable
        self.timeout = timeout
    }

    public func read() async -> GPUProbeResult {
        guard let path = executable ?? Self.onPath("nvidia-smi") else {
            return .unavailable("nvidia-smi is not on PATH")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            return .unavailable("\(path) does not exist")
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            return .failed("\(path) is not executable")
        }
        switch await ProbeRun.run(path, arguments: NvidiaSMI.arguments, timeout: timeout) {
        case let .couldNotStart(reason):
            return .failed("cannot run \(path): \(reason)")
        case .timedOut:
            return .failed("nvidia-smi gave no answer within \(timeout) and was killed")
        case let .finished(status, signalled, stdout, stderr):
            guard status == 0, !signalled else {
                let ending = signalled ? "was killed by signal \(status)" : "exited with status \(status)"
                let said = Self.excerpt(stderr.isEmpty ? stdout : stderr)
                return .failed("nvidia-smi \(ending)" + (said.isEmpty ? "" : ": \(said)"))
            }
            do {
                return .readings(try NvidiaSMI.parse(stdout))
            } catch {
                return .failed(error.description)
            }
        }
    }

    /// What registration says about the host: the GPUs' type ("mixed: A, B" if they differ), how
    /// many, and the smallest memory among them (a model must fit on every one).
    public static func hardware(_ readings: [GPUReading]) -> (gpuType: String, gpuCount: UInt32, vramMiBPerGPU: UInt64) {
        var names: [String] = []
        for reading in readings where !names.contains(reading.name) { names.append(reading.name) }
        let type = names.count > 1 ? "mixed: " + names.joined(separator: ", ") : names.first ?? ""
        let vram = readings.compactMap(\.memoryTotalMiB).min() ?? 0
        return (type, UInt32(readings.count), vram)
    }

    static func onPath(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Enough of what the tool printed to say why it failed, on one line.
    private static func excerpt(_ text: String) -> String {
        let oneLine = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " | ")
        return oneLine.count > 300 ? String(oneLine.prefix(300)) + "…" : oneLine
    }
}

/// One run of a short-lived command with its output collected and a time limit.
enum ProbeRun {
    enum Outcome: Sendable {
        case couldNotStart(String)
        case timedOut
        /// `status` is the signal number when `signalled`.
        case finished(status: Int32, signalled: Bool, stdout: String, stderr: String)
    }

    static func run(_ path: String, arguments: [String], timeout: Duration) async -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        let done = DispatchGroup()
        done.enter()
        process.terminationHandler = { _ in done.leave() }
        do {
            try process.run()
        } catch {
            return .couldNotStart("\((error as NSError).localizedDescription)")
        }
        let pid = process.processIdentifier
        let output = CollectedOutput()
        // Blocking reads on Dispatch threads, not the concurrency pool; both pipes at once so
        // that a full one cannot stall the child.
        for (handle, isStdout) in [(stdout.fileHandleForReading, true), (stderr.fileHandleForReading, false)] {
            done.enter()
            DispatchQueue.global().async {
                output.set(handle.readDataToEndOfFile(), stdout: isStdout)
                done.leave()
            }
        }
        guard await Race.first(done, within: timeout) else {
            // The child leads its own process group (Foundation spawns it so): kill the group,
            // so that nothing it started keeps the pipes open. The readers finish when they close;
            // the result does not wait for them, in case the driver holds the process in the kernel.
            kill(-pid, SIGKILL)
            return .timedOut
        }
        let (out, err) = output.both
        return .finished(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                         stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }

    private final class CollectedOutput: Sendable {
        private let data = Mutex<(stdout: Data, stderr: Data)>((Data(), Data()))

        func set(_ bytes: Data, stdout: Bool) {
            data.withLock { if stdout { $0.stdout = bytes } else { $0.stderr = bytes } }
        }

        var both: (Data, Data) { data.withLock { ($0.stdout, $0.stderr) } }
    }
}

/// Waits for a DispatchGroup or a time limit, whichever comes first, without blocking a thread.
private enum Race {
    static func first(_ group: DispatchGroup, within limit: Duration) async -> Bool {
        let (seconds, attoseconds) = limit.components
        let nanoseconds = Int(clamping: seconds) &* 1_000_000_000 &+ Int(attoseconds / 1_000_000_000)
        return await withCheckedContinuation { continuation in
            let once = ResumeOnce(continuation)
            group.notify(queue: .global()) { once.resume(true) }
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(max(0, nanoseconds))) { once.resume(false) }
        }
    }

    /// Two callbacks race to resume one continuation; the second finds it taken.
    private final class ResumeOnce: Sendable {
        private let continuation: Mutex<CheckedContinuation<Bool, Never>?>

        init(_ continuation: CheckedContinuation<Bool, Never>) { self.continuation = Mutex(continuation) }

        func resume(_ value: Bool) { continuation.withLock { $0.take() }?.resume(returning: value) }
    }
}
