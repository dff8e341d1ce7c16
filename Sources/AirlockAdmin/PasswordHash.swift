import AirlockCore
import Crypto
import CryptoExtras
import Foundation

/// Password hashing for local users: scrypt (memory-hard, from swift-crypto's BoringSSL), stored
/// as `scrypt$ln=15,r=8,p=1$<salt>$<hash>` (base64). The cost travels with each hash, so raising
/// it later leaves existing passwords verifiable; a hash made at a lower cost than `Cost.standard`
/// is upgraded at the user's next successful sign-in.
public enum PasswordHash {
    public struct Cost: Sendable, Equatable {
        /// log2 of scrypt's N (CPU/memory cost); memory used is 128 · r · N bytes.
        public var log2N: Int
        public var blockSize: Int
        public var parallelism: Int

        /// N = 2^15, r = 8, p = 1: 32 MiB and ~50–150 ms per hash on the appliance's CPUs —
        /// OWASP's scrypt recommendation, and slow enough that an offline guess is expensive.
        public static let standard = Cost(log2N: 15, blockSize: 8, parallelism: 1)
        /// For tests only: the same code path at a cost that keeps suites fast.
        public static let testing = Cost(log2N: 10, blockSize: 8, parallelism: 1)

        public init(log2N: Int, blockSize: Int, parallelism: Int) {
            self.log2N = log2N
            self.blockSize = blockSize
            self.parallelism = parallelism
        }
    }

    /// Passwords shorter than this are refused: with no second factor, length is the defence.
    public static let minimumLength = 12
    /// Longer passwords are refused rather than silently truncated or hashed at any length.
    public static let maximumLength = 1024

    public static func make(password: String, cost: Cost = .standard) throws -> String {
        try validate(password)
        let salt = Data((0..<16).map { _ in UInt8.random(in: 0...255) })
        let derived = try derive(password, salt: salt, cost: cost)
        return "scrypt$ln=\(cost.log2N),r=\(cost.blockSize),p=\(cost.parallelism)$\(salt.base64EncodedString())$\(derived.base64EncodedString())"
    }

    /// Whether `password` matches `encoded`, compared in constant time. A malformed or
    /// unsupported hash never matches.
    public static func verify(_ password: String, against encoded: String) -> Bool {
        guard let (cost, salt, expected) = parse(encoded), password.utf8.count <= maximumLength,
              let derived = try? derive(password, salt: salt, cost: cost)
        else { return false }
        return constantTimeEquals(derived.base64EncodedString(), expected.base64EncodedString())
    }

    /// The cost a stored hash was made with, if it is one of ours.
    public static func cost(of encoded: String) -> Cost? { parse(encoded)?.0 }

    /// Spends the same time as a real check: run when the user does not exist, so that the
    /// response time does not say which names are users.
    public static func burn(_ password: String) {
        _ = verify(password, against: decoy)
    }

    static func validate(_ password: String) throws {
        guard password.count >= minimumLength else {
            throw AirlockError.invalidArgument("a password needs at least \(minimumLength) characters")
        }
        guard password.utf8.count <= maximumLength else {
            throw AirlockError.invalidArgument("a password may have at most \(maximumLength) bytes")
        }
    }

    private static let decoy: String = (try? make(password: "decoy password, never a user's")) ?? ""

    private static func derive(_ password: String, salt: Data, cost: Cost) throws -> Data {
        let key = try KDF.Scrypt.deriveKey(
            from: Data(password.utf8), salt: salt, outputByteCount: 32, rounds: 1 << cost.log2N,
            blockSize: cost.blockSize, parallelism: cost.parallelism)
        return key.withUnsafeBytes { Data($0) }
    }

    private static func parse(_ encoded: String) -> (Cost, Data, Data)? {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "scrypt",
              let salt = Data(base64Encoded: String(parts[2])), let hash = Data(base64Encoded: String(parts[3])), hash.count == 32
        else { return nil }
        var values: [String: Int] = [:]
        for field in parts[1].split(separator: ",") {
            let pair = field.split(separator: "=")
            guard pair.count == 2, let value = Int(pair[1]) else { return nil }
            values[String(pair[0])] = value
        }
        // Bounds keep a tampered row from making a sign-in allocate gigabytes.
        guard let ln = values["ln"], let r = values["r"], let p = values["p"],
              (1...20).contains(ln), (1...32).contains(r), (1...16).contains(p) else { return nil }
        return (Cost(log2N: ln, blockSize: r, parallelism: p), salt, hash)
    }
}
