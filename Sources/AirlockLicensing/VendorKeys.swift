import Crypto
import Foundation

/// The vendor public keys an appliance accepts licences and activations from. Production keys are
/// compiled in (`ProductionVendorKeys`, the same lines as `licenses/trusted-keys`, which a test
/// keeps in step); development keys come from files named in airlock.toml (`[license]
/// vendor_key_files`) and are logged as such at start.
public struct VendorKeys: Sendable {
    public let keys: [String: Curve25519.Signing.PublicKey]

    public init(_ keys: [Curve25519.Signing.PublicKey]) {
        self.keys = Dictionary(keys.map { (KeyID.of($0), $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The production keys plus those in `files`.
    public static func load(extraFiles files: [String]) throws -> VendorKeys {
        VendorKeys(try keys(builtIn: ProductionVendorKeys.lines, extraFiles: files, what: "vendor"))
    }

    /// The keys of compiled-in trusted-keys `lines` and of each file in `files` (`what` names the
    /// kind of key in messages: vendor, release).
    public static func keys(builtIn lines: String, extraFiles files: [String], what: String) throws -> [Curve25519.Signing.PublicKey] {
        var keys = try parse(lines, source: "the built-in \(what) keys")
        for file in files {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw LicensingError("cannot read the \(what) key file \(file)") }
            keys += try parse(text, source: file)
        }
        return keys
    }

    /// The key that signed `envelope`, if trusted.
    public func key(for envelope: SignedEnvelope) throws -> Curve25519.Signing.PublicKey {
        guard let key = keys[envelope.keyID] else {
            throw LicensingError("signed by key \(envelope.keyID.prefix(32)), which this appliance does not trust (licenses/trusted-keys)")
        }
        return key
    }

    /// `trusted-keys` lines: `ed25519 <base64 raw public key> <comment…>`; `#` starts a comment.
    public static func parse(_ text: String, source: String) throws -> [Curve25519.Signing.PublicKey] {
        var keys: [Curve25519.Signing.PublicKey] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = content.split(whereSeparator: \.isWhitespace)
            guard !fields.isEmpty else { continue }
            guard fields.count >= 2, fields[0] == "ed25519", let raw = Data(base64Encoded: String(fields[1])),
                  let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
            else {
                throw LicensingError("\(source) line \(number + 1): expected `ed25519 <base64 public key> [comment]`")
            }
            keys.append(key)
        }
        return keys
    }

    /// The line for `key` in a trusted-keys file.
    public static func line(for key: Curve25519.Signing.PublicKey, comment: String) -> String {
        "ed25519 \(key.rawRepresentation.base64EncodedString()) \(comment)"
    }
}
