import AirlockCore
import AirlockStore

extension AdminActions {
    /// Adds `name` to the model catalog: the models agents may register and clients may request.
    public func addModel(name: String, by actor: AdminActor) async throws -> CatalogModel {
        try AdminInput.validateModelName(name)
        let model = CatalogModel(name: name, createdAt: clock.now())
        let entry = auditEntry(actor, "model.add", type: "model", id: name, before: CatalogModel?.none, after: model)
        return try await mutateTenancy { tx in
            if try tx.reader.model(named: name) != nil {
                throw AirlockError.duplicate(kind: "model", name: name, scope: "the catalog")
            }
            try tx.insert(model)
            try tx.audit(entry)
            return model
        }
    }

    /// Removes `name` from the catalog. API keys that list it in their allowed models keep the
    /// entry and simply cannot use the model; adding it again makes it usable to them again.
    public func removeModel(name: String, by actor: AdminActor) async throws -> CatalogModel {
        try await mutateTenancy { tx in
            guard let model = try tx.reader.model(named: name) else {
                throw AirlockError.notFound(kind: "model", reference: name)
            }
            try tx.deleteModel(named: name)
            try tx.audit(auditEntry(actor, "model.remove", type: "model", id: name, before: model, after: CatalogModel?.none))
            return model
        }
    }

    /// The catalog, by name.
    public func listModels() async throws -> [CatalogModel] {
        try await store.read { try $0.models() }
    }
}
