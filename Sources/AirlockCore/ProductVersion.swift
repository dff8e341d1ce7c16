/// The release this build belongs to. The vendor sets it when cutting a release; an upgrade
/// bundle's manifest names the same version, and `airlockd version` prints it with the schema
/// migrations the build carries (what `airlock-vendor bundle build` records in the bundle).
public enum ProductVersion {
    public static let current = "0.9.0"
}

/// A release version, `MAJOR.MINOR.PATCH` in decimal, compared numerically. No pre-release
/// labels: an appliance only ever runs signed releases, and a total order is what the
/// no-downgrade rule needs.
public struct ReleaseVersion: Comparable, Hashable, Sendable, CustomStringConvertible, Codable {
    public let major: Int
    public let minor: Int
    public let patch: Int

    public init?(_ text: String) {
        // Plain ASCII digits, no leading zeros (so one version has one spelling), nine at most.
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let numbers = parts.compactMap { part -> Int? in
            guard part.count <= 9, part.allSatisfy({ $0.isASCII && $0.isNumber }), part == "0" || !part.hasPrefix("0") else { return nil }
            return Int(part)
        }
        guard parts.count == 3, numbers.count == 3 else { return nil }
        (major, minor, patch) = (numbers[0], numbers[1], numbers[2])
    }

    public var description: String { "\(major).\(minor).\(patch)" }

    public static func < (lhs: ReleaseVersion, rhs: ReleaseVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let version = ReleaseVersion(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text.clipped())' is not MAJOR.MINOR.PATCH"))
        }
        self = version
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
