import Foundation

/// The systemd units installed on this host against the ones the current release ships. An
/// upgrade switches `current` and nothing in `/etc` (it runs as `airlock`, and a unit is the
/// operator's to change), so a release that changes a unit — `LimitNOFILE`, a hardening line —
/// takes effect only once the operator installs it. This says which units that concerns, so
/// `airlock upgrade apply` and `status` can print the commands instead of leaving it to a
/// release note.
public enum ReleaseUnits {
    /// One installed unit whose text differs from the current release's.
    public struct Difference: Sendable, Equatable, Encodable {
        /// The unit's file name, `airlockd.service`.
        public var unit: String
        /// The installed copy, under the unit directory.
        public var installed: String
        /// The current release's copy, under `<prefix>/current/appliance/systemd/`.
        public var shipped: String

        /// What an operator runs to install the shipped unit and start from it.
        public var commands: String {
            "sudo install -m 0644 \(shipped) \(installed) && sudo systemctl daemon-reload && sudo systemctl restart \(unit)"
        }
    }

    /// The units the current release ships (`appliance/systemd/*.service`) that are installed in
    /// `unitDirectory` with different bytes. A unit not installed there (the agent's on the
    /// control host) is not a difference; an installed unit that cannot be read is one.
    public static func differences(_ prefix: ReleasePrefix, unitDirectory: String) -> [Difference] {
        let shippedDirectory = prefix.currentLink + "/appliance/systemd"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: shippedDirectory)) ?? [])
            .filter { $0.hasSuffix(".service") }.sorted()
        return names.compactMap { name in
            let shipped = shippedDirectory + "/" + name
            let installed = unitDirectory + "/" + name
            guard FileManager.default.fileExists(atPath: installed), let ours = FileManager.default.contents(atPath: shipped) else { return nil }
            guard FileManager.default.contents(atPath: installed) != ours else { return nil }
            return Difference(unit: name, installed: installed, shipped: shipped)
        }
    }
}
