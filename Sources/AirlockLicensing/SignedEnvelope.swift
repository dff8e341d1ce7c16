import AirlockCore
import Crypto
import Foundation

/// Every file that crosses the air gap — licence, activation request, activation, usage report —
/// is one JSON envelope: the signed document's exact bytes (base64), what kind of document it is,
/// which key signed it, and an Ed25519 signature over `kind ‖ 0x00 ‖ payload`. The signature
/// covers the bytes as written, so no canonical re-encoding is needed to verify, and the kind in
/// the signed input means a signature over one kind never passes as another (licenses/FORMAT.md).
public struct SignedEnvelope: Codable, Sendable, Equatable {
    public var kind: String
    public var keyID: String
    public var payload: Data
    public var signature: Data

    enum CodingKeys: String, CodingKey { case kind, keyID = "key_id", payload, signature }

    /// Largest file Airlock reads as an envelope: licences are a few hundred bytes, usage reports
    /// a few hundred kilobytes for a large appliance.
    public static let maxFileBytes = 4 * 1024 * 1024

    public enum Kind {
        public static let license = "airlock-license/1"
        public static let activationRequest = "airlock-activation-request/1"
        public static let activation = "airlock-activation/1"
        public static let usageReport = "airlock-usage-report/1"
    }

    public static func sign(_ payload: Data, kind: String, with key: Curve25519.Signing.PrivateKey) throws -> SignedEnvelope {
        SignedEnvelope(kind: kind, keyID: KeyID.of(key.publicKey), payload: payload,
                       signature: try key.signature(for: signedInput(kind: kind, payload: payload)))
    }

    /// Signs `value` encoded as JSON with sorted keys (stable bytes for people to diff).
    public static func sign<T: Encodable>(_ value: T, kind: String, with key: Curve25519.Signing.PrivateKey) throws -> SignedEnvelope {
        try sign(try Self.encoder.encode(value), kind: kind, with: key)
    }

    /// The payload, once the signature verifies with `key` and the kind is `kind`.
    public func verified(kind expected: String, by key: Curve25519.Signing.PublicKey) throws -> Data {
        guard kind == expected else { throw LicensingError("this file is a \(kind.prefix(60)), not a \(expected)") }
        guard keyID == KeyID.of(key) else { throw LicensingError("this file was signed by key \(keyID.prefix(32)), not \(KeyID.of(key))") }
        guard key.isValidSignature(signature, for: Self.signedInput(kind: kind, payload: payload)) else {
            throw LicensingError("the signature does not verify: the file was changed after it was signed, or forged")
        }
        return payload
    }

    /// Decodes the verified payload as `T`.
    public func verified<T: Decodable>(_ type: T.Type, kind expected: String, by key: Curve25519.Signing.PublicKey) throws -> T {
        let data = try verified(kind: expected, by: key)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw LicensingError("the signed \(expected) does not have the expected fields: \(error)")
        }
    }

    static func signedInput(kind: String, payload: Data) -> Data {
        Data(kind.utf8) + Data([0]) + payload
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return encoder
    }()

    // MARK: files

    public static func read(_ path: String, what: String) throws -> SignedEnvelope {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = attributes?[.size] as? Int else { throw LicensingError("cannot read the \(what) at \(path)") }
        guard size <= maxFileBytes else { throw LicensingError("\(path) is \(size) bytes; a \(what) is at most \(maxFileBytes)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw LicensingError("cannot read the \(what) at \(path)") }
        return try decode(data, what: what, path: path)
    }

    public static func decode(_ data: Data, what: String, path: String = "the file") throws -> SignedEnvelope {
        guard data.count <= maxFileBytes else { throw LicensingError("\(path) is too large for a \(what)") }
        let envelope: SignedEnvelope
        do {
            envelope = try JSONDecoder().decode(SignedEnvelope.self, from: data)
        } catch {
            throw LicensingError("\(path) is not a signed Airlock \(what) (truncated or not JSON?)")
        }
        guard envelope.signature.count == 64 else { throw LicensingError("\(path): the signature is not an Ed25519 signature") }
        return envelope
    }

    public func encoded() throws -> Data { try Self.encoder.encode(self) + Data("\n".utf8) }

    /// Writes the file whole (a temporary file renamed into place), readable by its owner only
    /// unless `mode` says otherwise.
    public func write(to path: String, mode: Int = 0o600) throws {
        try AtomicFile.write(try encoded(), to: path, mode: mode)
    }
}

/// A vendor or appliance key's short name: the first 16 bytes of SHA-256 over the raw public
/// key, in hex. Shown to people and carried in envelopes to pick the key.
public enum KeyID {
    public static func of(_ key: Curve25519.Signing.PublicKey) -> String {
        Data(SHA256.hash(data: key.rawRepresentation)).prefix(16).hexString
    }
}

/// A licensing problem, phrased for the operator.
public struct LicensingError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}


/// An Ed25519 private key on disk: base64 of the 32 raw bytes and a newline, mode 0600 — the
/// appliance's identity key and the vendor's signing keys alike.
public enum PrivateKeyFile {
    /// The key at `path`; a file that exists but cannot be read or parsed is an error, never
    /// a reason to make a new key (that would be a new identity, or a new vendor).
    public static func read(_ path: String, what: String) throws -> Curve25519.Signing.PrivateKey {
        guard let data = FileManager.default.contents(atPath: path) else { throw LicensingError("cannot read the \(what) at \(path)") }
        guard let raw = Data(base64Encoded: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)
        else { throw LicensingError("\(path) is not an \(what) (base64 of a raw Ed25519 key)") }
        return key
    }

    public static func write(_ key: Curve25519.Signing.PrivateKey, to path: String) throws {
        try AtomicFile.write(Data((key.rawRepresentation.base64EncodedString() + "\n").utf8), to: path, mode: 0o600)
    }
}
