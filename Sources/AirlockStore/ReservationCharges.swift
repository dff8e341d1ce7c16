import AirlockCore
import GRDB

extension TenancyReader {
    /// Reserved capacity held over [from, to) per org and model, from `reservation_changes`, and
    /// its price: capacity units × time × the CU-hour price of the version in force, less the
    /// org's discount, summed exactly and rounded once per org and model.
    func reservationCharges(from: UnixMillis, to: UnixMillis, org: OrgID?, book: PriceBook) throws -> [ChargebackReport.ReservationCharge] {
        let changes = try Row.fetchAll(db, sql: """
            SELECT c.org_id, COALESCE(o.name, '') AS org_name, c.model, c.capacity_units, c.changed_at
            FROM reservation_changes c LEFT JOIN orgs o ON o.id = c.org_id
            WHERE c.changed_at < ? AND (? IS NULL OR c.org_id = ?)
            ORDER BY c.org_id, c.model, c.changed_at, c.id
            """, arguments: [to.value, org?.rawValue, org?.rawValue])
        var charges: [ChargebackReport.ReservationCharge] = []
        var index = 0
        while index < changes.count {
            let (orgID, model): (String, String) = (changes[index]["org_id"], changes[index]["model"])
            var steps: [(at: Int64, units: Int64)] = []
            while index < changes.count, changes[index]["org_id"] == orgID, changes[index]["model"] == model {
                steps.append((changes[index]["changed_at"], changes[index]["capacity_units"]))
                index += 1
            }
            let held = Self.held(steps, from: from.value, to: to.value, book: book, org: orgID)
            if held.unitMillis > 0 {
                charges.append(.init(orgID: orgID, orgName: changes[index - 1]["org_name"], model: model,
                                     capacityUnitMillis: held.unitMillis, costMicros: held.cost))
            }
        }
        return charges
    }

    /// Integrates a step function of capacity units over [from, to), cut also where a price
    /// version starts so each piece is priced by its own version.
    private static func held(_ steps: [(at: Int64, units: Int64)], from: Int64, to: Int64, book: PriceBook,
                             org: String) -> (unitMillis: Int64, cost: Int64) {
        let cuts = Set(steps.map(\.at) + book.versions.map(\.effectiveFrom.value) + [from]).filter { $0 >= from && $0 < to }.sorted()
        var unitMillis: Int64 = 0
        var numerator: Int128 = 0
        for (position, start) in cuts.enumerated() {
            let end = position + 1 < cuts.count ? cuts[position + 1] : to
            let units = steps.last { $0.at <= start }?.units ?? 0
            guard units > 0 else { continue }
            unitMillis += units * (end - start)
            if let table = book.version(at: UnixMillis(start))?.table {
                let kept = Int128(1_000_000 - (table.orgs[org]?.discountPPM ?? 0))
                numerator += Int128(units) * Int128(end - start) * Int128(table.reservedCapacityUnitHour) * kept
            }
        }
        let divisor: Int128 = 3_600_000 * 1_000_000
        return (unitMillis, Int64((numerator + divisor / 2) / divisor))
    }
}
