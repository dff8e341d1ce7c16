import AirlockAdmin
import AirlockBundles
import AirlockCore
import AirlockIdentity
import AirlockLicensing
import AirlockStore
import ArgumentParser
import Foundation

/// Options every `airlock` command accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Data directory (default: $AIRLOCK_DATA_DIR, then data_dir in airlock.toml).")
    var dataDir: String?

    @Option(name: .long, help: "Configuration file (default: $AIRLOCK_CONFIG, then /etc/airlock/airlock.toml).")
    var config: String?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    /// Where admin actions go: the running daemon, through its admin API on the local socket, so
    /// that it applies and audits them itself and sees them at once; or, when it is not running,
    /// the data directory directly (`localAdmin`), e.g. to prepare or repair a stopped appliance.
    func admin() async throws -> any AdminService {
        if let daemon = await DaemonAdmin.connect(dataDirectory: try configuration().dataDir, actor: actor) { return daemon }
        return try await localAdmin()
    }

    /// Opens the store (which `airlockd init` must have created) and the admin layer over it.
    /// Licence commands always use this: they work on the licence files in the data directory.
    func localAdmin() async throws -> AdminActions {
        let config = try configuration()
        let store = try Store(dataDirectory: config.dataDir, create: false)
        let hasher = try await KeyHasher.forStore(store, dataDirectory: config.dataDir)
        // The licence is read only by an action it limits, and judged by the one rule.
        return AdminActions(store: store, hasher: hasher, rotationGraceSeconds: config.keyRotationGraceSeconds,
                            entitlements: { [self] admin in try await admin.judgedLicenseStatus(try licenseState()).entitlements })
    }

    /// The running daemon's latest live node snapshot, if fresh.
    func liveNodes() throws -> LiveNodesSnapshot? {
        LiveNodesSnapshot.read(dataDirectory: try configuration().dataDir, now: .now())
    }

    /// The resolved airlock.toml (flags and environment applied).
    func configuration() throws -> AirlockConfig {
        try AirlockConfig.resolve(configFlag: config, dataDirFlag: dataDir)
    }

    /// The licence files in the data dir, judged with the built-in vendor keys and those the
    /// config names, for this appliance's identity (made on first use).
    func licenseState() throws -> LicenseState {
        let config = try configuration()
        return LicenseState(dataDirectory: config.dataDir, keys: try VendorKeys.load(extraFiles: config.licenseVendorKeyFiles),
                            identity: try ApplianceIdentity.openOrCreate(dataDirectory: config.dataDir))
    }

    /// Chain verification and the audit trail: the database only, no secret needed.
    func ledgerAudit() throws -> LedgerAudit {
        let config = try AirlockConfig.resolve(configFlag: config, dataDirFlag: dataDir)
        return LedgerAudit(store: try Store(dataDirectory: config.dataDir, create: false))
    }

    /// Who the audit log says did it: the effective Unix user, which the kernel vouches for.
    /// sudo's `SUDO_USER` is recorded beside it as a claim, labelled as such, because anyone
    /// able to run the command as that user could also have set the variable.
    var actor: AdminActor {
        let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid\(geteuid())"
        if let claimed = ProcessInfo.processInfo.environment["SUDO_USER"], !claimed.isEmpty, claimed != user {
            return AdminActor("cli:\(user) (SUDO_USER=\(claimed))")
        }
        return AdminActor("cli:\(user)")
    }
}

/// Runs a command body, turning Airlock's own errors into a one-line message on stderr and exit
/// status 1. Anything else is a bug and keeps its full description.
func runReportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as AirlockError {
        throw CLIFailure(message: oneVisibleLine(error.description))
    } catch let error as ConfigError {
        throw CLIFailure(message: oneVisibleLine(error.description))
    } catch let error as LicensingError {
        throw CLIFailure(message: oneVisibleLine(error.description))
    } catch let error as BackupError {
        throw CLIFailure(message: oneVisibleLine(error.description))
    } catch let error as BundleError {
        throw CLIFailure(message: oneVisibleLine(error.description))
    }
}

/// Messages echo what the operator typed, which may hold a newline, a terminal escape or a bidi
/// override; those are written as `\u{…}`, so the message stays one line that shows what it says.
private func oneVisibleLine(_ message: String) -> String {
    String(message.unicodeScalars.map { scalar -> String in
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator:
            "\\u{" + String(scalar.value, radix: 16) + "}"
        default:
            String(scalar)
        }
    }.joined())
}

/// A failure already phrased for the operator.
struct CLIFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
