@testable import AirlockAgent
import AirlockTestSupport
import Foundation
import Testing

/// nvidia-smi output as real hosts print it, from Fixtures/.
enum Fixture {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: url(name), encoding: .utf8)
    }
}

@Suite struct NvidiaSMIParsingTests {
    @Test func oneA100() throws {
        let readings = try NvidiaSMI.parse(try Fixture.text("a100-1x.csv"))
        #expect(readings == [GPUReading(index: 0, name: "NVIDIA A100-SXM4-80GB", temperatureCelsius: 34,
                                        memoryUsedMiB: 4, memoryTotalMiB: 81920, utilizationPercent: 0)])
    }

    @Test func eightH100sWithNamesContainingSpacesAndATrailingBlankLine() throws {
        let readings = try NvidiaSMI.parse(try Fixture.text("h100-8x.csv"))
        #expect(readings.map(\.index) == Array(0...7))
        #expect(Set(readings.map(\.name)) == ["NVIDIA H100 80GB HBM3"])
        #expect(readings[7] == GPUReading(index: 7, name: "NVIDIA H100 80GB HBM3", temperatureCelsius: 36,
                                          memoryUsedMiB: 70112, memoryTotalMiB: 81559, utilizationPercent: 100))
    }

    @Test func headerWithUnitsAndCRLFIsSkippedAndUnitsStripped() throws {
        let readings = try NvidiaSMI.parse(try Fixture.text("l40s-2x-header-units.csv"))
        #expect(readings == [
            GPUReading(index: 0, name: "NVIDIA L40S", temperatureCelsius: 41, memoryUsedMiB: 1203, memoryTotalMiB: 46068, utilizationPercent: 12),
            GPUReading(index: 1, name: "NVIDIA L40S", temperatureCelsius: 43, memoryUsedMiB: 0, memoryTotalMiB: 46068, utilizationPercent: 0),
        ])
    }

    @Test func headerWithoutUnitsIsSkipped() throws {
        let output = "index, name, temperature.gpu, memory.used, memory.total, utilization.gpu\n0, Tesla T4, 50, 100, 15360, 7\n"
        #expect(try NvidiaSMI.parse(output).map(\.name) == ["Tesla T4"])
    }

    @Test func driverPlaceholdersBecomeNil() throws {
        let readings = try NvidiaSMI.parse(try Fixture.text("not-available.csv"))
        #expect(readings == [
            GPUReading(index: 0, name: "NVIDIA A100-SXM4-40GB", temperatureCelsius: 38, memoryUsedMiB: nil, memoryTotalMiB: nil, utilizationPercent: nil),
            GPUReading(index: 1, name: "NVIDIA GeForce RTX 4090", temperatureCelsius: nil, memoryUsedMiB: 512, memoryTotalMiB: 24564, utilizationPercent: nil),
        ])
    }

    @Test func truncatedOutputNamesTheLine() throws {
        #expect(throws: GPUReadingError(line: 3, reason: "4 columns, expected 6")) {
            try NvidiaSMI.parse(try Fixture.text("truncated.csv"))
        }
    }

    @Test func emptyOutputHasNoGPUs() throws {
        #expect(try NvidiaSMI.parse(try Fixture.text("empty.csv")) == [])
        #expect(try NvidiaSMI.parse("\n\r\n  \n") == [])
    }

    @Test(arguments: [
        ("0, GPU, 30, 12x, 100, 5", "memory.used \"12x\" is not a whole number of MiB"),
        ("0, GPU, 30, -1, 100, 5", "memory.used \"-1\" is not a whole number of MiB"),
        ("0, GPU, hot, 1, 100, 5", "temperature.gpu \"hot\" is not a number"),
        ("0, GPU, nan, 1, 100, 5", "temperature.gpu \"nan\" is not a number"),
        ("0, GPU, 30, 1, 100, ", "utilization.gpu \"\" is not a number"),
        ("0, GPU, 30, 1, 100, 130", "utilization.gpu 130 is outside 0–100"),
        ("0, GPU, 30, 1, 100 MB, 5", "memory.total \"100 MB\" is not a whole number of MiB"),
        ("x, GPU, 30, 1, 100, 5", "index \"x\" is not a number"),
        ("0, , 30, 1, 100, 5", "GPU 0 has no name"),
        ("0, GPU, 30, 1, 100, 5, 9", "7 columns, expected 6"),
    ])
    func malformedFiguresAreErrorsNotZeros(line: String, reason: String) {
        #expect(throws: GPUReadingError(line: 2, reason: reason)) {
            try NvidiaSMI.parse("9, GPU, 30, 1, 100, 5\n" + line)
        }
    }

    @Test func aHeaderForAnotherQueryIsRefused() {
        #expect(throws: GPUReadingError.self) {
            try NvidiaSMI.parse("index, name, power.draw, memory.used, memory.total, utilization.gpu\n0, GPU, 30, 1, 100, 5\n")
        }
    }

    @Test func aRepeatedIndexIsRefused() {
        #expect(throws: GPUReadingError(line: 2, reason: "GPU index 0 appears twice")) {
            try NvidiaSMI.parse("0, GPU, 30, 1, 100, 5\n0, GPU, 30, 1, 100, 5\n")
        }
    }

    @Test func theQueryAsksForTheColumnsParseReads() {
        #expect(NvidiaSMI.arguments == [
            "--query-gpu=index,name,temperature.gpu,memory.used,memory.total,utilization.gpu",
            "--format=csv,noheader,nounits",
        ])
    }
}

@Suite struct GPUHardwareSummaryTests {
    @Test func eightH100s() throws {
        let hardware = GPUProbe.hardware(try NvidiaSMI.parse(try Fixture.text("h100-8x.csv")))
        #expect(hardware.gpuType == "NVIDIA H100 80GB HBM3")
        #expect(hardware.gpuCount == 8)
        #expect(hardware.vramMiBPerGPU == 81559)
    }

    @Test func mixedCardsNameEachTypeAndTakeTheSmallestMemory() throws {
        let readings = try NvidiaSMI.parse("""
            0, NVIDIA A100-SXM4-80GB, 30, 1, 81920, 5
            1, NVIDIA A100-SXM4-40GB, 30, 1, 40960, 5
            2, NVIDIA A100-SXM4-80GB, 30, 1, 81920, 5
            """)
        let hardware = GPUProbe.hardware(readings)
        #expect(hardware.gpuType == "mixed: NVIDIA A100-SXM4-80GB, NVIDIA A100-SXM4-40GB")
        #expect(hardware.gpuCount == 3)
        #expect(hardware.vramMiBPerGPU == 40960)
    }

    @Test func unknownMemoryIsLeftOutOfTheMinimum() throws {
        let hardware = GPUProbe.hardware(try NvidiaSMI.parse(try Fixture.text("not-available.csv")))
        #expect(hardware.vramMiBPerGPU == 24564)
        #expect(GPUProbe.hardware([]) == ("", 0, 0))
    }
}

/// The probe against fake `nvidia-smi` scripts in a temporary directory.
@Suite struct GPUProbeTests {
    let dir = TemporaryDirectory("airlock-agent-smi")

    /// Writes an executable shell script and returns its path.
    func fakeSMI(_ body: String, name: String = "nvidia-smi") throws -> String {
        // Written through a close-on-exec descriptor: a process another test spawns meanwhile
        // must not inherit it open for writing, or running the script fails with ETXTBSY.
        let path = dir.child(name)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
        defer { close(fd) }
        let bytes = Array("#!/bin/sh\n\(body)\n".utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw CocoaError(.fileWriteUnknown) }
        return path
    }

    @Test func readsWhatTheToolPrints() async throws {
        let smi = try fakeSMI("cat '\(Fixture.url("h100-8x.csv").path)'")
        guard case let .readings(readings) = await GPUProbe(executable: smi).read() else {
            Issue.record("expected readings")
            return
        }
        #expect(readings.count == 8)
    }

    @Test func passesTheQueryArguments() async throws {
        let log = dir.child("args")
        let smi = try fakeSMI("printf '%s\\n' \"$@\" > '\(log)'")
        #expect(await GPUProbe(executable: smi).read() == .readings([]))
        #expect(try String(contentsOfFile: log, encoding: .utf8) == NvidiaSMI.arguments.joined(separator: "\n") + "\n")
    }

    @Test func aToolThatHangsIsKilledAtTheTimeout() async throws {
        // A child of the tool holds its stdout too: the whole process group must go. On a loaded
        // machine the shell may not reach `echo` before a short limit kills it; then the group
        // kill went untested, so try again with a longer limit. The tool would run 300 s: the
        // elapsed bound is loose because a full parallel test run can starve this task for
        // seconds (on two cores it once took 20.3 s to get back to a 300 ms timeout).
        let pidFile = dir.child("pid")
        let smi = try fakeSMI("sleep 300 &\necho $! > '\(pidFile)'\nwait")
        for limit in [Duration.milliseconds(300), .seconds(2), .seconds(8)] {
            try? FileManager.default.removeItem(atPath: pidFile)
            let started = ContinuousClock.now
            let result = await GPUProbe(executable: smi, timeout: limit).read()
            let elapsed = ContinuousClock.now - started
            #expect(result == .failed("nvidia-smi gave no answer within \(limit) and was killed"))
            // Well under the fake tool's 300 s: it was killed, not waited for.
            #expect(elapsed >= limit && elapsed < limit + .seconds(120))
            guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
                  let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { continue }
            try await expectGone(pid)
            return
        }
        Issue.record("the fake tool never started its child, even with 8 seconds")
    }

    @Test func aFailingToolIsReportedWithWhatItSaid() async throws {
        let smi = try fakeSMI("echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"\nexit 9")
        #expect(await GPUProbe(executable: smi).read()
            == .failed("nvidia-smi exited with status 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."))
    }

    @Test func malformedOutputIsAFailureNamingTheLine() async throws {
        let smi = try fakeSMI("cat '\(Fixture.url("truncated.csv").path)'")
        #expect(await GPUProbe(executable: smi).read() == .failed("nvidia-smi output line 3: 4 columns, expected 6"))
    }

    @Test func aMissingToolMeansNoGPUs() async throws {
        #expect(await GPUProbe(executable: dir.child("nvidia-smi")).read() == .unavailable("\(dir.child("nvidia-smi")) does not exist"))
        #expect(GPUProbe.onPath("nvidia-smi", path: dir.path) == nil)
    }

    @Test func theToolIsFoundOnPATH() throws {
        let smi = try fakeSMI("exit 0")
        #expect(GPUProbe.onPath("nvidia-smi", path: "/nonexistent:\(dir.path)") == smi)
    }

    @Test func aFileThatIsNotExecutableIsAFailure() async throws {
        let path = dir.child("not-executable")
        try "0, GPU, 30, 1, 100, 5\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(await GPUProbe(executable: path).read() == .failed("\(path) is not executable"))
    }
}

/// Waits until `pid` no longer runs (gone, or a zombie of some other parent).
func expectGone(_ pid: Int32, within limit: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if !isRunning(pid) { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    if !isRunning(pid) { return }
    Issue.record("process \(pid) still runs", sourceLocation: sourceLocation)
}

/// True while `pid` exists and is not a zombie (a zombie whose parent is not us, e.g. an orphan
/// in a container whose init does not reap, has finished all the same).
func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
        return kill(pid, 0) == 0
    }
    // "pid (comm) S …": the state follows the last ')'.
    guard let close = stat.lastIndex(of: ")") else { return true }
    return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
}
