import Foundation

/// Reading and writing the PEM files Airlock keeps, with errors phrased for the operator.
public enum PEMFiles {
    public static func read(_ path: String, what: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CertificateError("cannot read the \(what) at \(path): \(error.localizedDescription)")
        }
    }

    /// Creates `path` with `mode` from the start, so a key is never readable by others even briefly.
    public static func write(_ text: String, to path: String, mode: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw CertificateError("cannot write \(path)")
        }
    }
}
