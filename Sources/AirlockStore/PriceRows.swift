import AirlockCore
import Foundation
import GRDB

extension TenancyWriter {
    /// Appends the next price version. The triggers of migration 013 refuse one that does not
    /// start after the latest version and after every ledger row, so even a caller that skipped
    /// the admin layer's checks cannot re-price a written row.
    public func addPriceVersion(effectiveFrom: UnixMillis, createdAt: UnixMillis, table: PriceTable) throws -> PriceVersion {
        let next = (try Int64.fetchOne(db, sql: "SELECT max(version) FROM price_versions") ?? 0) + 1
        let version = PriceVersion(version: next, effectiveFrom: effectiveFrom, createdAt: createdAt, table: table)
        try db.execute(sql: "INSERT INTO price_versions (version, effective_from, created_at, currency, document) VALUES (?, ?, ?, ?, ?)",
                       arguments: [next, effectiveFrom.value, createdAt.value, table.currency, try PriceRows.document(table)])
        return version
    }
}

extension TenancyReader {
    /// Every price version, oldest first.
    public func priceBook() throws -> PriceBook { try PriceRows.book(db) }

    /// The instant a new price version must start after: the latest version's start or the
    /// newest ledger row, whichever is later (nil when there is neither).
    public func latestPricedInstant() throws -> UnixMillis? {
        let row = try Row.fetchOne(db, sql: """
            SELECT max(COALESCE((SELECT max(effective_from) FROM price_versions), -1),
                       COALESCE((SELECT max(ts) FROM usage_ledger), -1)) AS latest
            """)
        let latest: Int64 = row?["latest"] ?? -1
        return latest < 0 ? nil : UnixMillis(latest)
    }
}

enum PriceRows {
    /// The stored form: JSON with sorted keys, so the same table is always the same bytes.
    static func document(_ table: PriceTable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(table), as: UTF8.self)
    }

    static func book(_ db: Database) throws -> PriceBook {
        let decoder = JSONDecoder()
        return PriceBook(try Row.fetchAll(db, sql: "SELECT * FROM price_versions ORDER BY version").map { row in
            let document: String = row["document"]
            guard let table = try? decoder.decode(PriceTable.self, from: Data(document.utf8)) else {
                throw AirlockError.storage("price version \(row["version"] as Int64) cannot be read")
            }
            return PriceVersion(version: row["version"], effectiveFrom: UnixMillis(row["effective_from"] as Int64),
                                createdAt: UnixMillis(row["created_at"] as Int64), table: table)
        })
    }
}
