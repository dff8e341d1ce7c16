import AirlockBundles
import AirlockCore
import ArgumentParser
import Foundation

/// `airlock backup`: the data directory in one file, its keys sealed with a passphrase.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Back up the data directory, verify a backup, restore one onto a stopped appliance.",
        discussion: """
            A backup holds the database (copied online: the daemon may run), the key-hashing secret, \
            the appliance identity, both CAs and the HTTPS certificate, the licence files and the \
            configuration; the LMDB counters are rebuilt from the ledger at the next start. Keys and \
            secrets are sealed with the passphrase (12+ characters; from --passphrase-file, else asked \
            on the terminal, else one line of standard input). Without the passphrase a backup cannot \
            be restored: keep it apart from the backup.
            """,
        subcommands: [Create.self, Verify.self, Restore.self])

    struct Passphrase: ParsableArguments {
        @Option(help: "A file whose first line is the passphrase.") var passphraseFile: String?

        func read(confirm: Bool) throws -> String {
            if let passphraseFile {
                guard let text = try? String(contentsOfFile: passphraseFile, encoding: .utf8),
                      let line = text.split(separator: "\n", omittingEmptySubsequences: false).first else {
                    throw AirlockError.invalidArgument("cannot read the passphrase from \(passphraseFile)")
                }
                return String(line)
            }
            return try readPassword(confirm: confirm, prompt: "Backup passphrase: ")
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a backup of the data directory (online).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var passphrase: Passphrase
        @Option(help: "The backup file to write (must not exist).") var out: String

        func run() async throws {
            try await runReportingErrors {
                let config = try global.configuration()
                let manifest = try await Backup.create(
                    dataDirectory: config.dataDir, configFile: AirlockConfig.filePath(configFlag: global.config),
                    output: out, passphrase: try passphrase.read(confirm: true))
                if global.json { return Output.json(manifest) }
                print("wrote \(out): \(manifest.files.count) files, ledger \(manifest.ledger.rows) rows (head \(manifest.ledger.hash ?? "-")), audit \(manifest.audit.rows) rows")
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a backup completely without restoring it.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var passphrase: Passphrase
        @Argument(help: "The backup file.") var file: String

        func run() async throws {
            try await runReportingErrors {
                let manifest = try await Backup.verify(file, passphrase: try passphrase.read(confirm: false))
                if global.json { return Output.json(manifest) }
                print("backup intact: \(manifest.files.count) files, made \(manifest.createdAt); ledger \(manifest.ledger.rows) rows, head \(manifest.ledger.hash ?? "-"); audit \(manifest.audit.rows) rows")
            }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup into the data directory of a stopped appliance.",
            discussion: "Everything is unpacked and verified beside the data directory first. With --replace an existing data directory is moved aside (never deleted).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var passphrase: Passphrase
        @Argument(help: "The backup file.") var file: String
        @Flag(help: "Move an existing data directory aside and restore in its place.") var replace = false

        func run() async throws {
            try await runReportingErrors {
                let config = try global.configuration()
                if await DaemonAdmin.connect(dataDirectory: config.dataDir, actor: global.actor) != nil {
                    throw AirlockError.invalidArgument("airlockd is running on \(config.dataDir); stop it before restoring")
                }
                let (manifest, aside) = try await Backup.restore(file, passphrase: try passphrase.read(confirm: false),
                                                                 dataDirectory: config.dataDir, replace: replace)
                if global.json { return Output.json(manifest) }
                print("restored \(manifest.files.count) files into \(config.dataDir); ledger \(manifest.ledger.rows) rows, head \(manifest.ledger.hash ?? "-")")
                if let aside { print("the previous data directory is at \(aside)") }
                print("the backed-up configuration is at \(config.dataDir)/\(Backup.restoredConfigName); counters are rebuilt at the next start")
            }
        }
    }
}
