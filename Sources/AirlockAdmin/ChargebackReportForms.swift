import AirlockCore
import Foundation

/// `?from=&to=&group_by=org,model&org=&format=` of a chargeback report. Defaults: this calendar
/// month (UTC) up to now, by org. An org-admin's report is always their own org's.
public struct ReportQuery: Sendable {
    public var from: UnixMillis
    public var to: UnixMillis
    public var groupBy: [ReportDimension]
    public var org: String?
    public var csv: Bool

    public init(query: [String: String], principal: AdminPrincipal, now: UnixMillis) throws {
        func time(_ name: String) throws -> UnixMillis? { try AdminInput.instant(query[name], name: name) }
        to = try time("to") ?? now
        from = try time("from") ?? UnixMillis(UTCCalendar.month(containing: UTCCalendar.day(of: to)).lowerBound * UTCCalendar.millisPerDay)
        groupBy = try ReportDimension.list(query["group_by"] ?? "org")
        org = principal.orgID?.rawValue ?? query["org"]
        switch query["format"] ?? "json" {
        case "json": csv = false
        case "csv": csv = true
        default: throw AirlockError.invalidArgument("format must be json or csv")
        }
    }
}

extension ReportDimension {
    /// `org,model` → [.org, .model]; an empty list is one line of totals.
    public static func list(_ text: String) throws -> [ReportDimension] {
        try text.split(separator: ",", omittingEmptySubsequences: true).map { name in
            guard let dimension = ReportDimension(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw AirlockError.invalidArgument(
                    "group_by: '\(String(name).controlCharactersReplaced.clipped(to: 40))' is not one of org, env, key, model, zone, day")
            }
            return dimension
        }
    }
}

/// A chargeback report as CSV: one row per group, then one per reservation charge; amounts in
/// currency units with six decimals (exact); every text cell formula-safe.
public enum ReportCSV {
    public static func render(_ report: ChargebackReport) -> String {
        let dimensions = report.groupBy
        var header = dimensions.flatMap { $0.csvColumns }
        header += ["requests", "prompt_tokens", "completion_tokens", "total_tokens", "estimated_requests", "cost"]
        var rows = [header.joined(separator: ",")]
        for line in report.lines {
            var cells = dimensions.flatMap { $0.cells(line) }.map(CSVField.safe)
            cells += ["\(line.requests)", "\(line.promptTokens)", "\(line.completionTokens)", "\(line.totalTokens)",
                      "\(line.estimatedRequests)", Micros.format(line.costMicros, places: 6)]
            rows.append(cells.joined(separator: ","))
        }
        if !report.reservations.isEmpty {
            rows.append("")
            rows.append("reservation_org_id,reservation_org,model,capacity_unit_hours,cost")
            for charge in report.reservations {
                rows.append([CSVField.safe(charge.orgID), CSVField.safe(charge.orgName), CSVField.safe(charge.model),
                             Micros.format(Micros.hours(fromMillis: charge.capacityUnitMillis), places: 3), Micros.format(charge.costMicros, places: 6)]
                    .joined(separator: ","))
            }
        }
        return rows.joined(separator: "\r\n") + "\r\n"
    }
}

extension ReportDimension {
    var csvColumns: [String] {
        switch self {
        case .org: ["org_id", "org"]
        case .env: ["env_id", "env"]
        case .key: ["key_id", "key"]
        case .model: ["model"]
        case .zone: ["zone"]
        case .day: ["day"]
        }
    }

    func cells(_ line: ChargebackReport.Line) -> [String] {
        let (id, name) = line.value(self)
        return csvColumns.count == 2 ? [id ?? "", name ?? ""] : [id ?? ""]
    }
}
