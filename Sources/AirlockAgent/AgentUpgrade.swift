import AirlockCore
import AirlockLicensing
import AirlockNodeProtocol
import AirlockReleases
import Crypto
import Foundation
import Synchronization

/// A new agent release offered by the control plane (`UpgradeAgent`, then the binary in
/// `AgentBinaryChunk`s). The agent trusts the control plane with nothing: the manifest must be
/// signed by one of its own trusted release keys and the binary must have the manifest's size and
/// SHA-256. Then it is staged in `<state>/upgrade/` and the agent stops (draining first);
/// `airlock-agent install-staged`, run as root before the next start (the unit's
/// `ExecStartPre=+`), checks it all again and switches `<prefix>/current` to it.
final class AgentUpgradeReceiver: Sendable {
    struct Offer {
        var commandID: UInt64
        var manifest: BundleManifest
        var envelope: Data
        var binary: BundleManifest.File
        var handle: FileHandle
        var hasher = SHA256()
        var written: Int64 = 0
    }

    let state: AgentState
    let keys: ReleaseKeys?
    private let offer = Mutex<Offer?>(nil)

    init(state: AgentState, keys: ReleaseKeys?) {
        self.state = state
        self.keys = keys
    }

    /// Checks the offer's manifest; prepares to receive the binary. Throws the refusal.
    func begin(_ command: UInt64, _ upgrade: Airlock_Node_V1_UpgradeAgent, runningVersion: String) throws {
        guard let keys, !keys.isEmpty else { throw AgentError("this agent trusts no release key (--release-key-file), so it takes no upgrade") }
        let envelope = try SignedEnvelope.decode(upgrade.signedManifest, what: "release manifest")
        let manifest = try BundleManifest.verified(envelope, keys: keys)
        guard manifest.version.description == upgrade.version else { throw AgentError("the offer says \(upgrade.version.prefix(32)) but the signed manifest is \(manifest.version)") }
        guard manifest.version.description != runningVersion else { throw AgentError("release \(manifest.version) is already running") }
        guard let binary = manifest.files.first(where: { $0.path == BundleManifest.binaries["airlock-agent"] }) else {
            throw AgentError("the release has no agent binary")
        }
        let folder = AgentUpgradeStage.folder(state)
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let partial = folder + "/airlock-agent.partial"
        guard FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: partial) else { throw AgentError("cannot write \(partial)") }
        offer.withLock { previous in
            try? previous?.handle.close()
            previous = Offer(commandID: command, manifest: manifest, envelope: upgrade.signedManifest, binary: binary, handle: handle)
        }
    }

    /// Takes one piece; returns the staged release's version once the last piece checked out.
    func take(_ chunk: Airlock_Node_V1_AgentBinaryChunk) throws -> (commandID: UInt64, version: ReleaseVersion)? {
        try offer.withLock { current -> (UInt64, ReleaseVersion)? in
            guard var receiving = current, receiving.commandID == chunk.commandID else { return nil }
            do {
                guard chunk.offset == UInt64(receiving.written) else { throw AgentError("a piece of the binary came out of order") }
                receiving.written += Int64(chunk.data.count)
                guard receiving.written <= receiving.binary.size else { throw AgentError("the binary is larger than its manifest says") }
                receiving.hasher.update(data: chunk.data)
                try receiving.handle.write(contentsOf: chunk.data)
                current = receiving
                guard chunk.last else { return nil }
                current = nil
                try receiving.handle.synchronize()
                try receiving.handle.close()
                guard receiving.written == receiving.binary.size,
                      Array(receiving.hasher.finalize()).hexString == receiving.binary.sha256 else {
                    throw AgentError("the binary does not match the size and SHA-256 in the signed manifest")
                }
                try AgentUpgradeStage.commit(state, envelope: receiving.envelope, commandID: receiving.commandID)
                return (receiving.commandID, receiving.manifest.version)
            } catch {
                current = nil
                try? receiving.handle.close()
                try? FileManager.default.removeItem(atPath: AgentUpgradeStage.folder(state))
                throw error
            }
        }
    }
}

/// `<state>/upgrade/`: the staged release (`manifest.json`, `airlock-agent`), the command it
/// answers, and, when installing it failed, why — reported to the control plane at the next
/// registration.
public enum AgentUpgradeStage {
    static func folder(_ state: AgentState) -> String { state.directory + "/upgrade" }

    static func commit(_ state: AgentState, envelope: Data, commandID: UInt64) throws {
        let folder = folder(state)
        try AtomicFile.write(Data("\(commandID)\n".utf8), to: folder + "/command", mode: 0o600)
        try AtomicFile.write(envelope, to: folder + "/manifest.json", mode: 0o600)
        guard rename(folder + "/airlock-agent.partial", folder + "/airlock-agent") == 0 else { throw AgentError("cannot stage the binary") }
        AtomicFile.flushDirectory(of: folder + "/airlock-agent")
    }

    /// Installs a staged release into `prefix` (root's job: `/opt/airlock` is read-only to the
    /// agent) after checking the signature and the binary again, and points `current` at it.
    /// Nothing staged: nil. A staged release that fails the checks is removed and the reason left
    /// for the agent to report; the current release stays.
    public static func install(_ state: AgentState, prefix: String, keys: ReleaseKeys) throws -> ReleaseVersion? {
        let folder = folder(state)
        guard let envelopeData = FileManager.default.contents(atPath: folder + "/manifest.json") else { return nil }
        do {
            let manifest = try BundleManifest.verified(try SignedEnvelope.decode(envelopeData, what: "release manifest"), keys: keys)
            guard let binary = manifest.files.first(where: { $0.path == BundleManifest.binaries["airlock-agent"] }),
                  let data = FileManager.default.contents(atPath: folder + "/airlock-agent"),
                  Int64(data.count) == binary.size, Array(SHA256.hash(data: data)).hexString == binary.sha256 else {
                throw AgentError("the staged binary does not match its signed manifest")
            }
            let release = prefix + "/releases/\(manifest.version)"
            let staging = prefix + "/releases/.staging-agent-\(manifest.version)"
            try? FileManager.default.removeItem(atPath: staging)
            try FileManager.default.createDirectory(atPath: staging + "/bin", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            try AtomicFile.write(data, to: staging + "/bin/airlock-agent", mode: 0o755)
            try AtomicFile.write(envelopeData, to: staging + "/manifest.json", mode: 0o644)
            try? FileManager.default.removeItem(atPath: release)
            guard rename(staging, release) == 0 else { throw AgentError("cannot move the release into \(release)") }
            try ReleaseLink.point(prefix, at: manifest.version)
            try FileManager.default.removeItem(atPath: folder)
            return manifest.version
        } catch {
            let reason = "\(error)"
            let command = FileManager.default.contents(atPath: folder + "/command")
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            if let command { try? AtomicFile.write(command, to: folder + "/command", mode: 0o600) }
            try? AtomicFile.write(Data(reason.utf8), to: folder + "/failed", mode: 0o600)
            throw AgentError("the staged release was not installed: \(reason)")
        }
    }

    /// A failed install's command id and reason, taken (the files removed).
    static func takeFailure(_ state: AgentState) -> (commandID: UInt64, reason: String)? {
        let folder = folder(state)
        guard let reason = FileManager.default.contents(atPath: folder + "/failed") else { return nil }
        let command = FileManager.default.contents(atPath: folder + "/command")
            .flatMap { UInt64(String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) }
        try? FileManager.default.removeItem(atPath: folder)
        return command.map { ($0, String(decoding: reason, as: UTF8.self)) }
    }
}
