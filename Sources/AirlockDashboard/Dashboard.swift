import AirlockAdminAPI
import Hummingbird

/// The local dashboard (placeholder while the pages are written).
public struct Dashboard: Sendable {
    let api: AdminAPI
    public init(api: AdminAPI) { self.api = api }
    public func add(to router: Router<BasicRequestContext>) {}
}
