import TOMLKit

/// Reads one TOML table strictly: every read names the dotted key it came from, a value of the
/// wrong type or range is an error (not a silent default), and `finish()` rejects any key that
/// nobody read — a misspelt limit must stop the daemon, not be ignored.
struct TOMLSection {
    let table: TOMLTable
    let path: String
    let file: String
    private var consumed: Set<String> = []

    init(table: TOMLTable, path: String, file: String) {
        self.table = table
        self.path = path
        self.file = file
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ reason: String) -> ConfigError {
        ConfigError(file: file, key: keyPath(key), reason: reason)
    }

    mutating func string(_ key: String) throws -> String? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard value.type == .string, let text = value.string else {
            throw error(key, "expected a string, got \(value.type)")
        }
        return text
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard value.type == .int, let number = value.int else {
            throw error(key, "expected an integer, got \(value.type)")
        }
        guard range.contains(number) else {
            throw error(key, "\(number) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    /// A number (integer or float) within `range`.
    mutating func double(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        let number: Double
        switch value.type {
        case .int: number = Double(value.int ?? 0)
        case .double: number = value.double ?? 0
        default: throw error(key, "expected a number, got \(value.type)")
        }
        guard range.contains(number) else {
            throw error(key, "\(number) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    /// An array of strings.
    mutating func strings(_ key: String) throws -> [String]? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard value.type == .array, let array = value.array else { throw error(key, "expected an array of strings, got \(value.type)") }
        return try array.map { element in
            guard element.type == .string, let text = element.string else { throw error(key, "expected an array of strings") }
            return text
        }
    }

    mutating func section(_ key: String) throws -> TOMLSection? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard value.type == .table, let nested = value.table else {
            throw error(key, "expected a table ([\(keyPath(key))]), got \(value.type)")
        }
        return TOMLSection(table: nested, path: keyPath(key), file: file)
    }

    mutating func bool(_ key: String) throws -> Bool? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard value.type == .bool, let flag = value.bool else {
            throw error(key, "expected true or false, got \(value.type)")
        }
        return flag
    }

    /// An array of tables (`[[key]]`), each read as its own section labelled `key[i]`.
    mutating func tables(_ key: String) throws -> [TOMLSection] {
        consumed.insert(key)
        guard let value = table[key] else { return [] }
        guard value.type == .array, let array = value.array else {
            throw error(key, "expected an array of tables ([[\(keyPath(key))]]), got \(value.type)")
        }
        return try array.enumerated().map { index, element in
            guard element.type == .table, let nested = element.table else {
                throw error(key, "entry \(index + 1) is not a table")
            }
            return TOMLSection(table: nested, path: "\(keyPath(key))[\(index)]", file: file)
        }
    }

    /// Throws for the first key (in sorted order, so the message is stable) that was never read.
    func finish() throws {
        if let unknown = table.keys.sorted().first(where: { !consumed.contains($0) }) {
            throw error(unknown, "unknown key")
        }
    }
}
