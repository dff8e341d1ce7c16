import AirlockCore
import GRDB
import Synchronization

/// Prices each usage row when it is appended (issue H): the cost stored on the row, and hashed
/// into the chain with it, is computed once, here, by the price version in force at the row's
/// `ts` and the org's free tier, inside the same transaction that appends the row — so it sees
/// exactly the price versions and month-to-date usage committed before it.
///
/// The writer is the authority; callers get a quote first (the last book the writer loaded, no
/// free tier) so that a row's fields can still be hashed on the caller's task in parallel. The
/// writer re-hashes only a row whose cost came out different: a price change it had not yet
/// seen, or tokens the free tier covers.
final class LedgerPricing: Sendable {
    private struct Loaded {
        var generation: Int64 = -1
        var book = PriceBook.empty
        /// Orgs holding reserved capacity: they get no free tier (seed 004 § 35.2).
        var reservedOrgs: Set<String> = []
    }

    private let loaded = Mutex(Loaded())

    /// The cost by the book last loaded, before any free tier.
    func quote(_ record: UsageRecord) -> Int64 {
        let book = loaded.withLock { $0.book }
        return Self.cost(record, book: book, freeTokens: 0)
    }

    /// Sets each row's final cost, re-hashing those whose quote was wrong. Runs in the writer's
    /// transaction; month-to-date usage comes from `usage_monthly` plus the rows before it here.
    func price(_ rows: inout [DigestedRecord], db: Database) throws {
        let current = try refreshed(db)
        var used: [FreeTierMonth: Int64] = [:]
        for index in rows.indices {
            let record = rows[index].record
            var freeTokens: Int64 = 0
            if let table = current.book.version(at: record.timestamp)?.table, table.freeTokensPerMonth > 0,
               !current.reservedOrgs.contains(record.orgID.rawValue) {
                let month = FreeTierMonth(org: record.orgID.rawValue, days: UTCCalendar.month(containing: UTCCalendar.day(of: record.timestamp)))
                let before = try used[month] ?? month.tokensRecorded(db)
                freeTokens = max(0, table.freeTokensPerMonth - before)
                used[month] = before + record.totalTokens
            }
            let cost = Self.cost(record, book: current.book, freeTokens: freeTokens)
            if cost != record.costMicros {
                rows[index].record.costMicros = cost
                rows[index].digest = ChainedRows.ledgerDigest(rows[index].record)
            }
        }
    }

    private func refreshed(_ db: Database) throws -> Loaded {
        let generation = try Int64.fetchOne(db, sql: "SELECT value FROM tenancy_generation WHERE id = 1") ?? 0
        if let same = loaded.withLock({ $0.generation == generation ? $0 : nil }) { return same }
        let fresh = Loaded(generation: generation, book: try PriceRows.book(db),
                           reservedOrgs: Set(try String.fetchAll(db, sql: "SELECT DISTINCT org_id FROM reservations")))
        loaded.withLock { $0 = fresh }
        return fresh
    }

    private static func cost(_ record: UsageRecord, book: PriceBook, freeTokens: Int64) -> Int64 {
        guard let table = book.version(at: record.timestamp)?.table else { return 0 }
        return table.cost(model: record.model, zone: record.zone, org: record.orgID.rawValue, promptTokens: record.promptTokens,
                          completionTokens: record.completionTokens, freeTokens: freeTokens)
    }
}

/// One org's calendar month, for the free tier.
private struct FreeTierMonth: Hashable {
    var org: String
    var days: Range<Int64>

    func tokensRecorded(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT total_tokens FROM usage_monthly WHERE org_id = ? AND month = ?",
                           arguments: [org, days.lowerBound]) ?? 0
    }
}
