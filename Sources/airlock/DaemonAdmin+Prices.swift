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

    func priceVersions() async throws -> [PriceVersionView] {
        let page: PricePage = try await call(.GET, "/admin/v1/prices?limit=1000", decoder: JSONDecoder())
        guard !page.hasMore else { throw AirlockError.invalidArgument("more than 1000 price versions: read them with the admin API") }
        return page.data
    }

    private struct PricePage: Decodable {
        var data: [PriceVersionView]
        var hasMore: Bool

        enum CodingKeys: String, CodingKey { case data, hasMore = "has_more" }
    }
}
