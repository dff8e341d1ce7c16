import AirlockCore
import Foundation
import NIOCore
import NIOFoundationCompat

/// A request's JSON object, read strictly: it must be an object, every field must be one the
/// operation knows (a typo is an error, not a silently ignored setting), and each field must
/// have the type asked for.
struct AdminBody {
    private let fields: [String: Field]

    enum Field: Decodable {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case array([Field])
        case object([String: Field])

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null }
            else if let value = try? container.decode(Bool.self) { self = .bool(value) }
            else if let value = try? container.decode(Double.self) { self = .number(value) }
            else if let value = try? container.decode(String.self) { self = .string(value) }
            else if let value = try? container.decode([Field].self) { self = .array(value) }
            else { self = .object(try container.decode([String: Field].self)) }
        }
    }

    init(_ buffer: ByteBuffer, allowed: Set<String>) throws {
        if buffer.readableBytes == 0 {
            fields = [:]
            return
        }
        guard case let .object(object)? = try? JSONDecoder().decode(Field.self, from: buffer) else {
            throw AirlockError.invalidArgument("the request body must be a JSON object")
        }
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw AirlockError.invalidArgument("unknown field '\(unknown.controlCharactersReplaced.clipped(to: 80))'; this operation takes \(allowed.sorted().joined(separator: ", "))")
        }
        fields = object
    }

    func string(_ name: String) throws -> String? {
        switch fields[name] {
        case nil, .null?: return nil
        case let .string(text)?: return text
        default: throw AirlockError.invalidArgument("\(name) must be a string")
        }
    }

    func requiredString(_ name: String) throws -> String {
        guard let text = try string(name) else { throw AirlockError.invalidArgument("\(name) is required") }
        return text
    }

    func strings(_ name: String) throws -> [String]? {
        switch fields[name] {
        case nil, .null?: return nil
        case let .array(items)?:
            return try items.map { item in
                guard case let .string(text) = item else { throw AirlockError.invalidArgument("\(name) must be an array of strings") }
                return text
            }
        default: throw AirlockError.invalidArgument("\(name) must be an array of strings")
        }
    }

    func integer(_ name: String) throws -> Int? {
        switch fields[name] {
        case nil, .null?: return nil
        case let .number(value)?:
            guard let int = Int(exactly: value) else { throw AirlockError.invalidArgument("\(name) must be a whole number") }
            return int
        default: throw AirlockError.invalidArgument("\(name) must be a whole number")
        }
    }

    func has(_ name: String) -> Bool { fields[name] != nil }

    func isNull(_ name: String) -> Bool {
        if case .null? = fields[name] { return true }
        return false
    }
}
