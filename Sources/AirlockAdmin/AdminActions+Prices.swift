import AirlockCore
import AirlockStore

extension AdminActions {
    /// Appends a price version starting at `effectiveFrom`, which must be in the future and after
    /// the latest version and every ledger row: rows already written are never re-priced, and
    /// versions never overlap (each is in force until the next starts). Audited with the table.
    public func addPriceVersion(_ input: PriceTableInput, effectiveFrom: UnixMillis, by actor: AdminActor) async throws -> PriceVersionView {
        let now = clock.now()
        guard effectiveFrom > now else {
            throw AirlockError.invalidArgument(
                "a price version must start in the future, not \(effectiveFrom) (now \(now)): rows already in the ledger are never re-priced")
        }
        return try await mutateTenancy { [self] tx in
            let table = try Self.priceTable(input, tx.reader)
            let book = try tx.reader.priceBook()
            if let first = book.versions.first, first.table.currency != table.currency {
                throw AirlockError.invalidArgument(
                    "the currency must stay \(first.table.currency), as in every earlier version (got \(table.currency)); report totals add up across versions")
            }
            if let latest = try tx.reader.latestPricedInstant(), effectiveFrom <= latest {
                let what = book.versions.last.map { $0.effectiveFrom == latest ? "version \($0.version), which starts" : "the newest ledger row, at" }
                    ?? "the newest ledger row, at"
                throw AirlockError.invalidArgument("a price version starting \(effectiveFrom) overlaps \(what) \(latest); it must start later")
            }
            let version = try tx.addPriceVersion(effectiveFrom: effectiveFrom, createdAt: now, table: table)
            try tx.audit(auditEntry(actor, "price.version_add", type: "price_version", id: String(version.version),
                                    before: PriceVersion?.none, after: version))
            return PriceVersionView(version, orgNames: Dictionary(uniqueKeysWithValues: try tx.reader.orgs().map { ($0.id.rawValue, $0.name) }))
        }
    }

    /// Every price version, oldest first, as people read it.
    public func priceVersions() async throws -> [PriceVersionView] {
        try await store.read { reader in
            let names = Dictionary(uniqueKeysWithValues: try reader.orgs().map { ($0.id.rawValue, $0.name) })
            return try reader.priceBook().versions.map { PriceVersionView($0, orgNames: names) }
        }
    }

    /// The stored table for `input`: orgs resolved to ids, every model checked against the
    /// catalog, every amount within the table's bounds.
    static func priceTable(_ input: PriceTableInput, _ reader: TenancyReader) throws -> PriceTable {
        func price(_ price: PriceTableInput.ModelPrice) -> PriceTable.ModelPrice {
            PriceTable.ModelPrice(inputPerMillion: price.input.micros, outputPerMillion: price.output.micros)
        }
        var orgs: [String: PriceTable.OrgTerms] = [:]
        for (reference, terms) in input.orgs ?? [:] {
            let org = try reader.requireOrg(reference)
            guard orgs[org.id.rawValue] == nil else {
                throw AirlockError.invalidArgument("org '\(reference.clipped(to: 80))' appears twice (by name and by id)")
            }
            let discount = terms.discountPercent?.micros ?? 0
            guard discount <= 100_000_000 else {
                throw AirlockError.invalidArgument("org '\(reference.clipped(to: 80))': the discount must be between 0 and 100 percent")
            }
            orgs[org.id.rawValue] = PriceTable.OrgTerms(discountPPM: discount / 100, models: (terms.models ?? [:]).mapValues(price))
        }
        for zone in (input.zones ?? [:]).keys { try AdminInput.validateName(zone, kind: "zone") }
        let table = PriceTable(currency: input.currency, models: input.models.mapValues(price),
                               zoneMultipliersPPM: (input.zones ?? [:]).mapValues(\.micros), orgs: orgs,
                               freeTokensPerMonth: input.freeTokensPerMonth ?? 0,
                               reservedCapacityUnitHour: input.reservedCapacityUnitHour?.micros ?? 0,
                               nodeHourCosts: (input.nodeHourCosts ?? [:]).mapValues(\.micros))
        do { try table.validate() } catch { throw AirlockError.invalidArgument(error.description) }
        let catalog = Set(try reader.models().map(\.name))
        if let unknown = table.modelsNamed.subtracting(catalog).sorted().first {
            throw AirlockError.invalidArgument("model '\(unknown.clipped(to: 80))' is not in the catalog (airlock model add \(unknown.clipped(to: 80)))")
        }
        return table
    }
}

extension AdminActions {
    /// A chargeback report over [from, to). The period must lie in the past (a report is a
    /// statement about rows that exist) and run forwards.
    public func chargebackReport(from: UnixMillis, to: UnixMillis, groupBy: [ReportDimension], org orgReference: String? = nil) async throws -> ChargebackReport {
        try checkPeriod(from: from, to: to)
        return try await store.read { reader in
            let org = try orgReference.map { try reader.requireOrg($0).id }
            return try reader.chargebackReport(from: from, to: to, groupBy: groupBy, org: org)
        }
    }

    /// The FinOps view of [from, to): node costs and utilisation, cost per million tokens by model.
    public func finOpsReport(from: UnixMillis, to: UnixMillis) async throws -> FinOpsReport {
        try checkPeriod(from: from, to: to)
        return try await store.read { try $0.finOpsReport(from: from, to: to) }
    }

    private func checkPeriod(from: UnixMillis, to: UnixMillis) throws {
        let now = clock.now()
        guard from < to else { throw AirlockError.invalidArgument("the period is reversed or empty: from \(from) is not before to \(to)") }
        guard from.value >= 0 else { throw AirlockError.invalidArgument("the period starts before 1970") }
        guard to <= now else {
            throw AirlockError.invalidArgument("the period ends in the future (\(to); now \(now)): end it now or earlier")
        }
    }
}
