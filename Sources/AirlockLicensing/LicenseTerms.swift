import Foundation

/// What a licence grants (the signed payload of an `airlock-license/1` envelope). Times are Unix
/// seconds, UTC. A licence is issued once and never changes; binding it to an appliance is the
/// separate activation, so one file can be carried to the box before the box is known.
public struct LicenseTerms: Codable, Sendable, Equatable {
    public var licenseID: String
    public var customer: String
    public var issuedAt: Int64
    public var notBefore: Int64
    public var expiresAt: Int64
    /// Days after `expiresAt` during which inference still works, with a warning on every response.
    public var graceDays: Int
    public var entitlements: Entitlements

    enum CodingKeys: String, CodingKey {
        case licenseID = "license_id", customer, issuedAt = "issued_at", notBefore = "not_before", expiresAt = "expires_at"
        case graceDays = "grace_days", entitlements
    }

    public init(licenseID: String, customer: String, issuedAt: Int64, notBefore: Int64, expiresAt: Int64, graceDays: Int,
                entitlements: Entitlements) {
        self.licenseID = licenseID
        self.customer = customer
        self.issuedAt = issuedAt
        self.notBefore = notBefore
        self.expiresAt = expiresAt
        self.graceDays = graceDays
        self.entitlements = entitlements
    }

    /// The limits are the vendor's to set, but nonsense is refused even when signed: a licence
    /// that could never be valid is a mistake to report, not to run with.
    public func validate() throws {
        guard Self.isIdentifier(licenseID) else { throw LicensingError("license_id must be 1-64 letters, digits, '.', '_' or '-'") }
        guard !customer.isEmpty, customer.count <= 200, !customer.contains(where: \.isNewline) else {
            throw LicensingError("customer must be one line of 1-200 characters")
        }
        guard notBefore < expiresAt else { throw LicensingError("the licence expires before it starts") }
        guard (0...365).contains(graceDays) else { throw LicensingError("grace_days must be 0-365") }
        try entitlements.validate()
    }

    public var graceEndsAt: Int64 { expiresAt + Int64(graceDays) * 86_400 }

    static func isIdentifier(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { $0.isASCIIAlphanumeric || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }
}

/// The limits and features a licence grants.
public struct Entitlements: Codable, Sendable, Equatable {
    public var maxGPUs: Int
    public var maxNodes: Int
    public var maxOrgs: Int
    /// Reserved capacity the appliance may hand out, in capacity units (1 CU = 1 token/s).
    public var reservedCapacityUnits: Int
    public var features: [Feature]

    enum CodingKeys: String, CodingKey {
        case maxGPUs = "max_gpus", maxNodes = "max_nodes", maxOrgs = "max_orgs"
        case reservedCapacityUnits = "reserved_capacity_units", features
    }

    public init(maxGPUs: Int, maxNodes: Int, maxOrgs: Int, reservedCapacityUnits: Int, features: [Feature]) {
        self.maxGPUs = maxGPUs
        self.maxNodes = maxNodes
        self.maxOrgs = maxOrgs
        self.reservedCapacityUnits = reservedCapacityUnits
        self.features = features
    }

    /// Features a licence can switch on. Unknown names in a newer vendor's file fail to decode
    /// rather than being silently dropped, so the operator learns the appliance is too old.
    public enum Feature: String, Codable, Sendable, CaseIterable {
        case prefixRouting = "prefix_routing"
        case orgOwnedNodes = "org_owned_nodes"
        case reservedCapacity = "reserved_capacity"
        case multiZone = "multi_zone"
    }

    /// What an appliance without a licence may do: every feature, at a scale for the demo and an
    /// evaluation, not for production (documented in OPERATIONS.md).
    public static let evaluation = Entitlements(maxGPUs: 4, maxNodes: 2, maxOrgs: 3, reservedCapacityUnits: 1_000,
                                                features: Feature.allCases)

    func validate() throws {
        for (name, value) in [("max_gpus", maxGPUs), ("max_nodes", maxNodes), ("max_orgs", maxOrgs)] where !(0...1_000_000).contains(value) {
            throw LicensingError("\(name) must be 0-1000000")
        }
        guard (0...1_000_000_000).contains(reservedCapacityUnits) else { throw LicensingError("reserved_capacity_units must be 0-1000000000") }
        guard Set(features).count == features.count else { throw LicensingError("a feature is listed twice") }
    }
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (0x30...0x39).contains(self) || (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self)
    }
}
