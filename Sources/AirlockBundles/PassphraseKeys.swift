import AirlockCore
import Crypto
import CryptoExtras
import Foundation

/// The keys an operator passphrase gives a backup: one to seal the secret files (ChaCha20-Poly1305)
/// and one to authenticate the manifest (HMAC-SHA-256), both from scrypt over the passphrase and a
/// random salt kept in the manifest. Without the passphrase a backup's keys cannot be read, and a
/// manifest edited by anyone without it does not verify.
struct PassphraseKeys {
    let sealing: SymmetricKey
    let manifest: SymmetricKey

    /// Same cost as dashboard passwords (N = 2^15, r = 8, p = 1); kept in the manifest so a later
    /// release can raise it and still read older backups.
    static let log2N = 15
    static let minimumLength = 12

    init(passphrase: String, salt: Data, log2N: Int = PassphraseKeys.log2N) throws {
        guard passphrase.count >= Self.minimumLength else {
            throw AirlockError.invalidArgument("a backup passphrase needs at least \(Self.minimumLength) characters")
        }
        guard (10...20).contains(log2N) else { throw BackupError.damaged("the manifest asks for an unsupported key-derivation cost") }
        let derived = try KDF.Scrypt.deriveKey(from: Data(passphrase.utf8), salt: salt, outputByteCount: 64,
                                               rounds: 1 << log2N, blockSize: 8, parallelism: 1)
        let bytes = derived.withUnsafeBytes { Data($0) }
        sealing = SymmetricKey(data: bytes.prefix(32))
        manifest = SymmetricKey(data: bytes.suffix(32))
    }

    func seal(_ plaintext: Data) throws -> Data {
        try ChaChaPoly.seal(plaintext, using: sealing).combined
    }

    func open(_ sealed: Data) throws -> Data {
        do {
            return try ChaChaPoly.open(ChaChaPoly.SealedBox(combined: sealed), using: sealing)
        } catch {
            throw BackupError.wrongPassphrase
        }
    }

    func mac(_ bytes: Data) -> String {
        Array(HMAC<SHA256>.authenticationCode(for: bytes, using: manifest)).hexString
    }
}
