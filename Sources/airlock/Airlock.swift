import ArgumentParser

/// `airlock`: the operator's command line. Every command goes through `AirlockAdmin`, the same
/// service layer the daemon serves, so the CLI cannot do anything the audit log does not see.
@main
struct Airlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "airlock",
        abstract: "Administer an Airlock appliance: tenants, API keys, limits, ledger and audit log.",
        discussion: """
            Global options (--data-dir, --config, --json) may come before or after the command.
            The data directory defaults to $AIRLOCK_DATA_DIR, then data_dir in airlock.toml.
            """,
        subcommands: [
            OrgCommand.self, EnvCommand.self, KeyCommand.self, LimitsCommand.self, ReservationCommand.self,
            LedgerCommand.self, AuditCommand.self, NodeCommand.self, ModelCommand.self, LicenseCommand.self, UserCommand.self, BackupCommand.self,
            UpgradeCommand.self, PriceCommand.self, GuardrailCommand.self, UsageCommand.self, ReconcileCommand.self,
        ]
    )

    @OptionGroup var global: GlobalOptions
}
