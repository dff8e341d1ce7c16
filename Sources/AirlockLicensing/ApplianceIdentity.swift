import AirlockCore
import Crypto
import Foundation

/// Who this appliance is, for licensing: an Ed25519 key made on first use in
/// `<data dir>/identity/appliance.key` (0600), and a fingerprint over its public key and stable
/// machine facts (`/etc/machine-id`, the DMI product UUID where readable). Activations name the
/// fingerprint, so a licence activated here does not work on another box — nor on this box's
/// data dir copied to another machine. The key also signs activation requests and usage reports.
public struct ApplianceIdentity: Sendable {
    public let publicKey: Curve25519.Signing.PublicKey
    public let fingerprint: String
    let privateKey: Curve25519.Signing.PrivateKey

    /// Where the machine facts are read; tests point them at files of their own.
    public struct MachineFacts: Sendable {
        public var machineIDPath = "/etc/machine-id"
        public var productUUIDPath = "/sys/class/dmi/id/product_uuid"
        public init() {}

        /// The facts' values, trimmed; a fact that cannot be read counts as empty (DMI is often
        /// root-only, containers have no machine-id): still stable, if less specific.
        func values() -> [String] {
            [machineIDPath, productUUIDPath].map {
                ((try? String(contentsOfFile: $0, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
    }

    public static func openOrCreate(dataDirectory: String, facts: MachineFacts = MachineFacts()) throws -> ApplianceIdentity {
        let directory = dataDirectory + "/identity"
        let path = directory + "/appliance.key"
        let files = FileManager.default
        let key: Curve25519.Signing.PrivateKey
        if files.fileExists(atPath: path) {
            // Unreadable (wrong user) or damaged is an error to fix: a new key would be a new
            // identity, and the licence's activation would no longer match it.
            key = try PrivateKeyFile.read(path, what: "appliance identity key (restore it from the backup)")
        } else {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            key = Curve25519.Signing.PrivateKey()
            try PrivateKeyFile.write(key, to: path)
        }
        return ApplianceIdentity(privateKey: key, facts: facts.values())
    }

    init(privateKey: Curve25519.Signing.PrivateKey, facts: [String]) {
        self.privateKey = privateKey
        publicKey = privateKey.publicKey
        var input = Data("airlock.appliance-fingerprint.v1".utf8)
        for part in [privateKey.publicKey.rawRepresentation] + facts.map({ Data($0.utf8) }) {
            input.append(contentsOf: withUnsafeBytes(of: UInt32(part.count).bigEndian, Array.init))
            input.append(part)
        }
        // 128 bits, grouped for reading aloud over a phone to the vendor.
        let hex = Data(SHA256.hash(data: input)).prefix(16).hexString
        fingerprint = stride(from: 0, to: hex.count, by: 4).map { offset in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return String(hex[start..<hex.index(start, offsetBy: 4)])
        }.joined(separator: "-")
    }

    public func sign(_ payload: Data, kind: String) throws -> SignedEnvelope {
        try SignedEnvelope.sign(payload, kind: kind, with: privateKey)
    }
}
