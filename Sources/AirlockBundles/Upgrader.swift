import AirlockCore
import AirlockStore
import Foundation

/// What the upgrade steps need from the machine they run on: running the configured commands,
/// asking the daemon whether it is ready and serving, writing audit rows with the release that
/// owns the schema, and telling the operator what is happening. The CLI provides it; tests too.
public protocol UpgradeHost: Sendable {
    func run(_ command: [String], purpose: String) async throws
    /// Returns once `/readyz` answers 200, or throws after `timeoutSeconds`.
    func waitUntilReady(timeoutSeconds: Int) async throws
    /// The built-in smoke request — the daemon must say it runs `release` — and the site's
    /// `smoke_command`, if any.
    func smokeTest(expecting release: ReleaseVersion) async throws
    /// Appends an audit row (`upgrade.*`); `release` is the release now current, whose binaries
    /// understand the database's schema.
    func audit(action: String, from: ReleaseVersion?, to: ReleaseVersion, detail: [String: String], release: String) async throws
    func progress(_ line: String)
    /// Fault injection for the crash tests: called after each recorded step.
    func reached(_ step: String)
}

/// `airlock upgrade apply / rollback / recover / install`: the steps, in an order where a crash
/// at any point leaves the journal saying which way to finish (docs/BUNDLES.md § Apply).
public struct Upgrader: Sendable {
    public let prefix: ReleasePrefix
    public let dataDirectory: String
    public let settings: UpgradeSettings
    public let keys: ReleaseKeys
    public let host: any UpgradeHost

    public init(prefix: ReleasePrefix, dataDirectory: String, settings: UpgradeSettings, keys: ReleaseKeys, host: any UpgradeHost) {
        (self.prefix, self.dataDirectory, self.settings, self.keys, self.host) = (prefix, dataDirectory, settings, keys, host)
    }

    // MARK: - Verify

    /// Everything `apply` checks before it changes anything: the signature, every file's hash,
    /// and the version policy against what is installed and what the database has run.
    @discardableResult
    public func verify(_ path: String) throws -> UpgradeBundle {
        host.progress("checking the signature and contents of \(path)")
        let bundle = try UpgradeBundle.open(path, keys: keys)
        try checkPolicy(bundle.manifest, installed: try prefix.currentVersion())
        host.progress("checking \(bundle.manifest.files.count) files (\(UpgradeBundle.megabytes(bundle.manifest.files.reduce(0) { $0 + $1.size })))")
        try bundle.verifyPayload(progress: host.progress)
        return bundle
    }

    /// No downgrade unless the vendor signed one; no re-install of the current version; the
    /// installed release recent enough; no database this release's schema does not cover.
    func checkPolicy(_ manifest: BundleManifest, installed: ReleaseVersion?) throws {
        if let installed {
            guard manifest.version != installed else { throw BundleError("release \(installed) is already installed") }
            if manifest.version < installed && !manifest.allowDowngrade {
                throw BundleError("the bundle is release \(manifest.version), older than the installed \(installed); a downgrade needs a bundle the vendor signed as one")
            }
            guard installed >= manifest.minimumFromVersion else {
                throw BundleError("release \(manifest.version) upgrades from \(manifest.minimumFromVersion) or later; \(installed) is installed: apply an intermediate release first")
            }
        }
        let database = dataDirectory + "/" + Store.databaseFileName
        if FileManager.default.fileExists(atPath: database) {
            let unknown = Set(try Store.recordedMigrations(databaseAt: database)).subtracting(manifest.migrations)
            guard unknown.isEmpty else {
                throw BundleError("the database has run migrations release \(manifest.version) does not know (\(unknown.sorted().joined(separator: ", "))): it was migrated by a newer release")
            }
        }
    }

    // MARK: - Install and apply

    /// The first install on an empty prefix: stage and point `current` at it; nothing to restart.
    public func install(_ path: String) throws -> ReleaseVersion {
        guard try prefix.currentVersion() == nil else { throw BundleError("\(prefix.currentLink) exists: this prefix is installed; use `airlock upgrade apply`") }
        let bundle = try verify(path)
        try prefix.stage(bundle, progress: host.progress)
        try prefix.switchCurrent(to: bundle.manifest.version)
        host.progress("installed release \(bundle.manifest.version) at \(prefix.directory(for: bundle.manifest.version))")
        return bundle.manifest.version
    }

    public enum Outcome: Sendable, Equatable {
        case upgraded(from: ReleaseVersion, to: ReleaseVersion)
        /// The upgrade failed at a step and everything is back on `from`.
        case rolledBack(from: ReleaseVersion, to: ReleaseVersion, reason: String)
    }

    public func apply(_ path: String) async throws -> Outcome {
        if let pending = try UpgradeJournal.read(prefix) {
            throw BundleError("an \(pending.operation.rawValue) to \(pending.to) was interrupted; run `airlock upgrade recover` first")
        }
        guard let from = try prefix.currentVersion() else { throw BundleError("nothing is installed at \(prefix.root); use `airlock upgrade install`") }
        let bundle = try verify(path)
        let to = bundle.manifest.version
        var journal = UpgradeJournal(id: "\(UnixMillis.now().value)-\(from)-to-\(to)", operation: .upgrade, from: from, to: to,
                                     phase: .started, snapshot: nil, startedAt: Int64(Date().timeIntervalSince1970))
        try await host.audit(action: "upgrade.start", from: from, to: to, detail: ["bundle": (path as NSString).lastPathComponent], release: currentDirectory)
        try record(&journal, .started)

        do {
            host.progress("staging release \(to) in \(prefix.directory(for: to))")
            try prefix.stage(bundle, progress: host.progress)
            try record(&journal, .staged)

            host.progress("taking a snapshot of the database")
            journal.snapshot = try await DataSnapshot.take(dataDirectory: dataDirectory, id: journal.id)
            try record(&journal, .snapshotted)
        } catch {
            // Nothing has moved yet: the upgrade is simply abandoned, with nothing to recover.
            try? await host.audit(action: "upgrade.abandon", from: from, to: to, detail: ["error": "\(error)".clipped(to: 300)], release: currentDirectory)
            UpgradeJournal.clear(prefix)
            throw error
        }

        do {
            try record(&journal, .switching)
            host.progress("switching current: \(from) → \(to)")
            try prefix.switchCurrent(to: to)
            try record(&journal, .switched)
            try await restartAndCheck(expecting: to)
            try record(&journal, .restarted)
        } catch {
            let reason = "\(error)"
            host.progress("the upgrade failed: \(reason); rolling back to \(from)")
            journal.reason = reason
            try await rollBack(journal)
            return .rolledBack(from: from, to: to, reason: reason)
        }
        try await host.audit(action: "upgrade.apply", from: from, to: to,
                             detail: ["snapshot": journal.snapshot?.directory ?? "", "migrations_run": "\(try journal.snapshot?.isOutgrown(dataDirectory: dataDirectory) ?? false)"],
                             release: currentDirectory)
        UpgradeJournal.clear(prefix)
        tidy(protecting: [from, to])
        host.progress("release \(to) is running")
        return .upgraded(from: from, to: to)
    }

    // MARK: - Rollback

    /// Back to `target` (default: the newest installed release older than the current one) by
    /// hand. When the current release has run migrations, the snapshot taken when upgrading from
    /// `target` is put back, with the rows written since carried over.
    public func rollback(to target: ReleaseVersion? = nil) async throws -> ReleaseVersion {
        if let pending = try UpgradeJournal.read(prefix) {
            throw BundleError("an \(pending.operation.rawValue) to \(pending.to) was interrupted; run `airlock upgrade recover` first")
        }
        guard let current = try prefix.currentVersion() else { throw BundleError("nothing is installed at \(prefix.root)") }
        let installed = prefix.installedVersions()
        guard let target = target ?? installed.last(where: { $0 < current }) else { throw BundleError("no earlier release is installed to roll back to") }
        guard target != current, installed.contains(target) else { throw BundleError("release \(target) is not installed (installed: \(installed.map(\.description).joined(separator: ", ")))") }
        guard target < current else { throw BundleError("release \(target) is newer than the current \(current): a rollback goes back; apply its bundle to go forward") }
        let manifest = try prefix.manifest(of: target, keys: keys)
        let snapshot = try latestSnapshot(from: target, to: current)
        let database = dataDirectory + "/" + Store.databaseFileName
        let unknown = Set(try Store.recordedMigrations(databaseAt: database)).subtracting(manifest.migrations)
        if !unknown.isEmpty && snapshot == nil {
            throw BundleError("release \(current) has run migrations \(target) does not know (\(unknown.sorted().joined(separator: ", "))) and no snapshot from the upgrade \(target) → \(current) is left")
        }
        let journal = UpgradeJournal(id: "\(UnixMillis.now().value)-\(current)-back-to-\(target)", operation: .rollback, from: target, to: current,
                                     phase: .switched, snapshot: unknown.isEmpty ? nil : snapshot, startedAt: Int64(Date().timeIntervalSince1970),
                                     reason: "by hand")
        try journal.write(prefix)
        try await rollBack(journal)
        return target
    }

    /// Ends on `journal.from`: the snapshot back if the new release ran migrations (daemon stopped
    /// meanwhile), `current` switched back, the daemon restarted and ready. Each step is safe to
    /// repeat, so ``recover()`` simply calls this again.
    func rollBack(_ start: UpgradeJournal) async throws {
        var journal = start
        journal.operation = .rollback
        try journal.write(prefix)
        // `.restoring` is recorded before anything moves: a restore cut short has already put
        // the snapshot's schema back, and only the journal still says the tail is owed.
        let owed = try journal.phase == .restoring || journal.phase < .restoring && (journal.snapshot?.isOutgrown(dataDirectory: dataDirectory) ?? false)
        if owed, let snapshot = journal.snapshot {
            try record(&journal, .restoring)
            host.progress("release \(journal.to) ran migrations: stopping the daemon and putting the snapshot back")
            try await host.run(settings.stopCommand, purpose: "stop the daemon")
            let carried = try await snapshot.restore(dataDirectory: dataDirectory)
            host.progress("snapshot restored; \(carried.usageRows) usage and \(carried.auditRows) audit rows written since were carried over"
                          + (carried.keptAt.map { "; the replaced database is kept at \($0)" } ?? ""))
            try record(&journal, .restored)
        }
        host.progress("switching current: \(journal.to) → \(journal.from)")
        try prefix.switchCurrent(to: journal.from)
        host.reached("rollback.switched")
        try await restartAndCheck(expecting: journal.from)
        try await host.audit(action: "upgrade.rollback", from: journal.to, to: journal.from,
                             detail: ["reason": (journal.reason ?? "").clipped(to: 300), "snapshot_restored": "\(journal.phase == .restored)"],
                             release: currentDirectory)
        UpgradeJournal.clear(prefix)
        host.progress("release \(journal.from) is running")
    }

    // MARK: - Recover

    /// A line about the upgrade or rollback a crash interrupted, if any.
    public func interrupted() throws -> String? {
        try UpgradeJournal.read(prefix).map { "\($0.operation.rawValue) \($0.from) → \($0.to) stopped after step '\($0.phase.name)'" }
    }

    /// Finishes an upgrade or rollback that a crash interrupted: before `current` moved, the
    /// upgrade is abandoned (nothing changed but a staged release and a snapshot); after the new
    /// release passed its checks, it is finished if it still passes them; in between, it is
    /// rolled back, since no smoke test vouched for the new release. Returns what was done.
    public func recover() async throws -> String? {
        guard var journal = try UpgradeJournal.read(prefix) else {
            prefix.removeLeftoverStaging()
            return nil
        }
        prefix.removeLeftoverStaging()
        let current = try prefix.currentVersion()
        if journal.operation == .upgrade && journal.phase < .switching
            || journal.operation == .upgrade && journal.phase == .switching && current == journal.from {
            try await host.audit(action: "upgrade.abandon", from: journal.from, to: journal.to,
                                 detail: ["phase": journal.phase.name], release: currentDirectory)
            UpgradeJournal.clear(prefix)
            return "the upgrade to \(journal.to) stopped before switching releases; \(journal.from) stays current"
        }
        // Past `.restarted` the new release passed its smoke test: finish the upgrade if it
        // still passes one, rather than undo a release that was vouched for.
        if journal.operation == .upgrade && journal.phase == .restarted,
           (try? await host.waitUntilReady(timeoutSeconds: settings.readyTimeoutSeconds)) != nil,
           (try? await host.smokeTest(expecting: journal.to)) != nil {
            try await host.audit(action: "upgrade.apply", from: journal.from, to: journal.to,
                                 detail: ["snapshot": journal.snapshot?.directory ?? "", "recovered": "true"], release: currentDirectory)
            UpgradeJournal.clear(prefix)
            return "the upgrade to \(journal.to) had passed its checks and was finished: \(journal.to) is current"
        }
        journal.reason = journal.reason ?? "interrupted at \(journal.phase.name)"
        try await rollBack(journal)
        return journal.operation == .upgrade ? "the upgrade to \(journal.to) was rolled back: \(journal.from) is current"
            : "the rollback was finished: \(journal.from) is current"
    }

    // MARK: - Steps

    private func restartAndCheck(expecting release: ReleaseVersion) async throws {
        host.progress("restarting the daemon: \(settings.restartCommand.joined(separator: " "))")
        try await host.run(settings.restartCommand, purpose: "restart the daemon")
        host.progress("waiting for /readyz (up to \(settings.readyTimeoutSeconds) s)")
        try await host.waitUntilReady(timeoutSeconds: settings.readyTimeoutSeconds)
        host.progress("smoke test")
        try await host.smokeTest(expecting: release)
    }

    private func record(_ journal: inout UpgradeJournal, _ phase: UpgradeJournal.Phase) throws {
        journal.phase = phase
        try journal.write(prefix)
        host.reached("\(journal.operation.rawValue).\(phase.name)")
    }

    var currentDirectory: String { prefix.currentLink }

    /// The newest snapshot taken by an upgrade `from` → `to` (its folder name says so).
    func latestSnapshot(from: ReleaseVersion, to: ReleaseVersion) throws -> DataSnapshot? {
        let root = DataSnapshot.folder(dataDirectory: dataDirectory)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { $0.hasSuffix("-\(from)-to-\(to)") }
        guard let name = names.sorted(by: { Int($0.prefix { $0.isNumber }) ?? 0 < Int($1.prefix { $0.isNumber }) ?? 0 }).last,
              let data = FileManager.default.contents(atPath: root + "/" + name + "/" + Self.snapshotRecordName) else { return nil }
        return try? JSONDecoder().decode(DataSnapshot.self, from: data)
    }

    static let snapshotRecordName = "snapshot.json"

    /// Old releases and snapshots beyond `keep_releases`.
    private func tidy(protecting: Set<ReleaseVersion>) {
        let removed = prefix.prune(keep: settings.keepReleases, protecting: protecting)
        if !removed.isEmpty { host.progress("removed old releases: \(removed.map(\.description).joined(separator: ", "))") }
        DataSnapshot.prune(dataDirectory: dataDirectory, keep: settings.keepReleases)
    }
}
