import AirlockCore
import Foundation

/// Refuses keys a `Decodable` does not know, which `JSONDecoder` would otherwise skip.
enum StrictKeys {
    /// `data` as a `T`, every error one readable line that starts with `what`.
    static func decode<T: Decodable>(_ data: Data, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw AirlockError.invalidArgument("\(what): \(error.readable)")
        } catch {
            throw AirlockError.invalidArgument("\(what): the body must be a JSON object")
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static func check<Keys: CodingKey & CaseIterable>(_ decoder: Decoder, _: Keys.Type) throws {
        let known = Set(Keys.allCases.map(\.stringValue))
        let container = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "unknown field '\(unknown.controlCharactersReplaced.clipped(to: 80))'; expected \(known.sorted().joined(separator: ", "))"))
        }
    }
}

extension DecodingError {
    /// `models.llama.input: '-1' is negative…` rather than Foundation's description.
    var readable: String {
        let (path, message): ([CodingKey], String) = switch self {
        case let .dataCorrupted(context): (context.codingPath, context.debugDescription)
        case let .keyNotFound(key, context): (context.codingPath + [key], "is required")
        case let .typeMismatch(type, context): (context.codingPath, "must be \(type == String.self ? "a string" : "a \(type)")")
        case let .valueNotFound(_, context): (context.codingPath, "must not be null")
        @unknown default: ([], "cannot be read")
        }
        let where_ = path.map(\.stringValue).joined(separator: ".")
        return where_.isEmpty ? message : "\(where_.controlCharactersReplaced.clipped(to: 120)): \(message)"
    }
}
