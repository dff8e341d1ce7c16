import AirlockCore
import AirlockStore
import Foundation

/// Every licence usage report already issued (its `license.report` audit row holds the
/// `UsageSummary` it stated), recomputed from the ledger rows it covered.
extension Reconciliation {
    static let reportAction = "license.report"

    func checkLicenseReports() async throws -> [ReconciliationReport.LicenseReportCheck] {
        var checks: [ReconciliationReport.LicenseReportCheck] = []
        var before: Int64?
        repeat {
            let page = try await store.read { [before] in
                try $0.auditPage(beforeSeq: before, limit: 500, actionPrefix: Self.reportAction)
            }
            for record in page where record.entry.action == Self.reportAction {
                checks.append(try await check(record))
            }
            before = page.count == 500 ? page.last?.seq : nil
        } while before != nil
        return checks.reversed()
    }

    /// The report's month is the month of its first row (`first_seq`): `usageSummary` counts the
    /// rows whose start time falls in the month, so that row's does. The figures are recomputed
    /// over rows with seq ≤ the report's head (rows appended later, even for that month, were
    /// not there to count), and the head's hash must still be the one the report names.
    func check(_ record: AuditRecord) async throws -> ReconciliationReport.LicenseReportCheck {
        let entry = record.entry
        guard let stated = entry.after.flatMap({ try? JSONDecoder().decode(UsageSummary.self, from: Data($0.utf8)) }) else {
            return .init(auditSeq: record.seq, issuedAt: entry.timestamp, period: nil, headSeq: 0,
                         differences: ["the audit row does not hold a usage summary"])
        }
        return try await store.read { reader in
            var differences: [String] = []
            let head = try reader.ledgerRow(seq: stated.headSeq)
            let headHash = stated.headSeq == 0 ? ChainPosition.genesisHash : head?.hash
            if headHash != stated.headHash {
                differences.append("head seq \(stated.headSeq): reported hash \(stated.headHash), ledger \(headHash ?? "no such row")")
            }
            guard let firstSeq = stated.firstSeq else {
                if stated.rows != 0 { differences.append("reported \(stated.rows) rows but no first seq") }
                return .init(auditSeq: record.seq, issuedAt: entry.timestamp, period: nil, headSeq: stated.headSeq, differences: differences)
            }
            guard let first = try reader.ledgerRow(seq: firstSeq) else {
                differences.append("first seq \(firstSeq) is not in the ledger")
                return .init(auditSeq: record.seq, issuedAt: entry.timestamp, period: nil, headSeq: stated.headSeq, differences: differences)
            }
            let month = UTCCalendar.month(containing: UTCCalendar.day(of: first.timestamp))
            let recomputed = try reader.usageSummary(from: UnixMillis(month.lowerBound * UTCCalendar.millisPerDay),
                                                     to: UnixMillis(month.upperBound * UTCCalendar.millisPerDay), throughSeq: stated.headSeq)
            if recomputed.rows != stated.rows { differences.append("rows: reported \(stated.rows), ledger \(recomputed.rows)") }
            differences += Self.differences(stated: stated.lines, ledger: recomputed.lines)
            return .init(auditSeq: record.seq, issuedAt: entry.timestamp, period: String(UTCCalendar.isoDate(month.lowerBound).prefix(7)),
                         headSeq: stated.headSeq, differences: differences)
        }
    }

    /// Line by line, keyed by org id and model (names may have changed since; ids do not).
    static func differences(stated: [UsageSummary.Line], ledger: [UsageSummary.Line]) -> [String] {
        func key(_ line: UsageSummary.Line) -> String { "\(line.orgID)/\(line.model)" }
        let statedLines = Dictionary(stated.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
        let ledgerLines = Dictionary(ledger.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
        let fields: [(String, KeyPath<UsageSummary.Line, Int64>)] = [
            ("requests", \.requests), ("prompt_tokens", \.promptTokens), ("completion_tokens", \.completionTokens),
            ("total_tokens", \.totalTokens), ("estimated_requests", \.estimatedRequests),
        ]
        var differences: [String] = []
        for name in Set(statedLines.keys).union(ledgerLines.keys).sorted() {
            for (field, path) in fields {
                let reported = statedLines[name]?[keyPath: path] ?? 0
                let counted = ledgerLines[name]?[keyPath: path] ?? 0
                if reported != counted { differences.append("\(name): \(field) reported \(reported), ledger \(counted)") }
            }
        }
        return differences
    }
}
