import ArgumentParser

/// `airlock-bench`: speed targets live here, never in timed unit tests. Each benchmark prints a
/// table for people and, last, one `RESULT NAME key=value …` line for scripts
/// (docs/BENCHMARKS.md records the figures). Run through `./scripts/bench NAME`.
@main
struct AirlockBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "airlock-bench",
        abstract: "Airlock benchmarks.",
        subcommands: [LedgerBenchmark.self, AdmissionBenchmark.self, SchedulerBenchmark.self, ReportsBenchmark.self, DurabilityWriter.self, AdmissionProbe.self, BareProxy.self]
    )
}
