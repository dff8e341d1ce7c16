import AirlockCore
import Foundation

/// How commands print: aligned text tables for people, JSON (snake_case keys, sorted) for scripts.
enum Output {
    static func json<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        print(String(decoding: data, as: UTF8.self))
    }

    /// Columns padded to their widest cell; the header row first.
    static func table(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for row in all {
            let cells = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }
            print(cells.joined(separator: "  "))
        }
    }

    /// `label: value` lines, labels aligned.
    static func fields(_ pairs: [(String, String)]) {
        let width = pairs.map { $0.0.count }.max() ?? 0
        for (label, value) in pairs {
            print("\(label):".padding(toLength: width + 1, withPad: " ", startingAt: 0) + " " + value)
        }
    }

    static func text(_ instant: UnixMillis?) -> String { instant?.description ?? "-" }
}
