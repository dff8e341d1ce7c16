import AirlockCore
import GRDB

/// The outcome of walking a hash chain from its first row to its head.
public struct ChainReport: Codable, Sendable, Equatable {
    public var chain: String
    public var rowsChecked: Int64
    /// The last row that verified; nil for an empty chain or a chain broken at its first row.
    public var verifiedHead: ChainPosition?
    public var firstBreak: ChainBreak?

    public var isIntact: Bool { firstBreak == nil }
}

/// The first row at which a chain stops verifying, and why.
public struct ChainBreak: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// The row's contents do not hash to its stored `hash`: it was edited, or rows were swapped.
        case contentMismatch = "content_mismatch"
        /// The row's `prev_hash` is not the previous row's `hash`: something before it was rewritten.
        case linkMismatch = "link_mismatch"
        /// A `seq` is absent: a row was deleted.
        case missingRow = "missing_row"
        /// The row cannot be decoded at all, or names a format this version does not know.
        case unreadable
        /// The row claims an older format than the row before it: relabelled, so that a field
        /// drops out of its hash.
        case formatRegression = "format_regression"
    }

    public var seq: Int64
    public var kind: Kind
    public var detail: String

    public init(seq: Int64, kind: Kind, detail: String) {
        self.seq = seq
        self.kind = kind
        self.detail = detail
    }
}

extension Store {
    /// Walks the usage ledger in one read snapshot, recomputing every hash.
    public func verifyLedger() async throws -> ChainReport {
        try await verifyChain(table: "usage_ledger", formatColumn: "format") { row, seq, prev in
            let format: Int64 = row["format"]
            guard ChainedRows.ledgerDomains[format] != nil else {
                throw AirlockError.storage("unknown ledger format \(format)")
            }
            return ChainedRows.ledgerDigest(try Ledger.record(row: row), format: format).linked(seq: seq, prevHash: prev)
        }
    }

    /// Walks the audit log in one read snapshot, recomputing every hash.
    public func verifyAuditLog() async throws -> ChainReport {
        try await verifyChain(table: "audit_log") { row, seq, prev in
            ChainedRows.auditDigest(AuditLog.entry(row: row)).linked(seq: seq, prevHash: prev)
        }
    }

    /// - Parameter formatColumn: the column holding each row's format, if the chain has more than
    ///   one; formats may only grow along the chain.
    private func verifyChain(
        table: String, formatColumn: String? = nil, hash: @escaping @Sendable (Row, Int64, String) throws -> String
    ) async throws -> ChainReport {
        try await wrapErrors {
            try await pool.read { db in
                var report = ChainReport(chain: table, rowsChecked: 0, verifiedHead: nil, firstBreak: nil)
                var expectedSeq: Int64 = 1
                var prevHash = ChainPosition.genesisHash
                var format: Int64 = 0
                let rows = try Row.fetchCursor(db, sql: "SELECT * FROM \(table) ORDER BY seq")
                while let row = try rows.next() {
                    let seq: Int64 = row["seq"]
                    if let formatColumn {
                        let rowFormat: Int64 = row[formatColumn]
                        guard rowFormat >= format else {
                            report.firstBreak = ChainBreak(seq: seq, kind: .formatRegression,
                                                           detail: "format \(rowFormat) after a row in format \(format): the row was relabelled")
                            return report
                        }
                        format = rowFormat
                    }
                    if let problem = try Self.check(row: row, seq: seq, expectedSeq: expectedSeq, prevHash: prevHash, hash: hash) {
                        report.firstBreak = problem
                        return report
                    }
                    prevHash = row["hash"]
                    report.rowsChecked += 1
                    report.verifiedHead = ChainPosition(seq: seq, prevHash: row["prev_hash"], hash: prevHash)
                    expectedSeq = seq + 1
                }
                return report
            }
        }
    }

    private static func check(
        row: Row, seq: Int64, expectedSeq: Int64, prevHash: String,
        hash: (Row, Int64, String) throws -> String
    ) throws -> ChainBreak? {
        if seq != expectedSeq {
            return ChainBreak(seq: expectedSeq, kind: .missingRow, detail: "row \(expectedSeq) is missing (next row is \(seq))")
        }
        let storedPrev: String = row["prev_hash"]
        if storedPrev != prevHash {
            return ChainBreak(seq: seq, kind: .linkMismatch,
                              detail: "prev_hash does not match the hash of row \(seq - 1): an earlier row was rewritten, removed or reordered")
        }
        let computed: String
        do {
            computed = try hash(row, seq, prevHash)
        } catch {
            return ChainBreak(seq: seq, kind: .unreadable, detail: "row cannot be decoded: \(error)")
        }
        if computed != (row["hash"] as String) {
            return ChainBreak(seq: seq, kind: .contentMismatch, detail: "row contents do not match its hash: the row was changed")
        }
        return nil
    }
}
