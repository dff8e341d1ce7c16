import AirlockCore
import Crypto
import Foundation

/// SHA-256 of a file, read in 1 MiB pieces (binaries and databases are too large to hold whole).
enum FileDigest {
    static func sha256(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw AirlockError.storage("cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return Array(hasher.finalize()).hexString
    }

    static func sha256(_ data: Data) -> String { Array(SHA256.hash(data: data)).hexString }
}
