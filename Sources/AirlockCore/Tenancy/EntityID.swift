import Foundation

/// An opaque, typed identifier such as `org_3f2a9c1e7b5d4a60`.
///
/// The type prefix makes an id readable in logs and CLI arguments and keeps an org id from being
/// passed where a key id is expected. Ids never change once issued (seed 004 § 9: "keys do not
/// change identity").
public protocol EntityID: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible
where RawValue == String {
    static var prefix: String { get }
    init(unchecked rawValue: String)
}

extension EntityID {
    /// A fresh id: the prefix, an underscore, and 64 random bits as 16 lowercase hex digits.
    public static func generate() -> Self {
        var generator = SystemRandomNumberGenerator()
        let random = generator.next() as UInt64
        let hex = String(random, radix: 16)
        return Self(unchecked: "\(prefix)_" + String(repeating: "0", count: 16 - hex.count) + hex)
    }

    /// Accepts only the exact shape `generate()` produces.
    public init?(rawValue: String) {
        let expectedPrefix = Self.prefix + "_"
        guard rawValue.hasPrefix(expectedPrefix) else { return nil }
        let tail = rawValue.dropFirst(expectedPrefix.count)
        guard tail.count == 16, tail.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        self.init(unchecked: rawValue)
    }

    public var description: String { rawValue }

    /// True when `text` looks like an id of this type rather than a name.
    public static func looksLikeID(_ text: String) -> Bool { text.hasPrefix(prefix + "_") }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = Self(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a \(Self.prefix) id: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public struct OrgID: EntityID {
    public static let prefix = "org"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

public struct EnvID: EntityID {
    public static let prefix = "env"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

public struct KeyID: EntityID {
    public static let prefix = "key"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}
