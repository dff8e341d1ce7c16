/// A failure domain inside the customer's data centre — a hall, a rack row, a site. The air-gap
/// edition's stand-in for the seed's cloud regions (seed 004 § 12, § 27).
public struct Zone: Codable, Sendable, Equatable {
    public var name: String
    public var createdAt: UnixMillis

    public init(name: String, createdAt: UnixMillis) {
        self.name = name
        self.createdAt = createdAt
    }
}

/// A model the appliance can route to, by the name clients send in `"model"`.
public struct CatalogModel: Codable, Sendable, Equatable {
    public var name: String
    public var createdAt: UnixMillis

    public init(name: String, createdAt: UnixMillis) {
        self.name = name
        self.createdAt = createdAt
    }
}
