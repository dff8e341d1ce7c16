import AirlockAdmin
import AirlockCore
import Foundation

extension DaemonAdmin {
    func addPriceVersion(_ input: PriceTableInput, effectiveFrom: UnixMillis, by actor: AdminActor) async throws -> PriceVersionView {
        // The body travels as the same JSON the API documents; the daemon checks it again.
        let request = PriceVersionRequest(effectiveFrom: effectiveFrom.description, table: input)
        guard let body = try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as? [String: Any] else {
            throw AirlockError.invalidArgument("price table: cannot be encoded")
        }
        return try await call(.POST, "/admin/v1/prices", body, decoder: JSONDecoder())
    }

    func priceVersions() async throws -> [PriceVersionView] { try await snakeCaseList("/admin/v1/prices", what: "price versions") }

    /// One page of up to 1000 items whose coding keys are the API's own snake_case names (the
    /// transport's key conversion would turn `effective_from` into a key they do not have).
    func snakeCaseList<T: Decodable>(_ path: String, what: String) async throws -> [T] {
        let page: SnakeCasePage<T> = try await call(.GET, path + "?limit=1000", decoder: JSONDecoder())
        guard !page.hasMore else { throw AirlockError.invalidArgument("more than 1000 \(what): read them with the admin API") }
        return page.data
    }

    private struct SnakeCasePage<T: Decodable>: Decodable {
        var data: [T]
        var hasMore: Bool

        enum CodingKeys: String, CodingKey { case data, hasMore = "has_more" }
    }
}
