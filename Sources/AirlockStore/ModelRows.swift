import AirlockCore
import GRDB

extension CatalogModel {
    init(row: Row) {
        self.init(name: row["name"], createdAt: UnixMillis(row["created_at"] as Int64))
    }
}

extension TenancyReader {
    /// The model catalog, by name. Names are exact (case-sensitive): they are what clients send.
    public func models() throws -> [CatalogModel] {
        try Row.fetchAll(db, sql: "SELECT * FROM models ORDER BY name").map(CatalogModel.init(row:))
    }

    public func model(named name: String) throws -> CatalogModel? {
        try Row.fetchOne(db, sql: "SELECT * FROM models WHERE name = ?", arguments: [name]).map(CatalogModel.init(row:))
    }
}

extension TenancyWriter {
    public func insert(_ model: CatalogModel) throws {
        try db.execute(sql: "INSERT INTO models (name, created_at) VALUES (?, ?)", arguments: [model.name, model.createdAt.value])
    }

    /// Removes a model from the catalog. Key allow-lists and reservations that name it are left
    /// as they are: they simply match nothing until the model is added again.
    public func deleteModel(named name: String) throws {
        try db.execute(sql: "DELETE FROM models WHERE name = ?", arguments: [name])
    }
}
