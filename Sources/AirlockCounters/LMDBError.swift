import CLMDB

/// A failed LMDB call: the function, LMDB's code and its message (`mdb_strerror`).
public struct LMDBError: Error, Equatable, CustomStringConvertible {
    public var code: Int32
    public var operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    public var description: String {
        "\(operation): \(String(cString: mdb_strerror(code))) (LMDB \(code))"
    }

    /// The file is not a usable LMDB environment (damaged, another format, another LMDB
    /// version): the counters must be moved aside and rebuilt from the ledger.
    public var meansUnusableFile: Bool {
        [MDB_CORRUPTED, MDB_INVALID, MDB_VERSION_MISMATCH, MDB_PAGE_NOTFOUND].contains(code)
    }

    /// Throws for any code but success.
    @inline(__always)
    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws {
        if code != 0 { throw LMDBError(code: code, operation: operation()) }
    }
}
