import AirlockCore
import AirlockMetrics
import Foundation
import Logging
import Synchronization

/// swift-log's side of `LOG_FORMAT=json`: every log event as one `JSONLogLine` on stderr. Nested
/// metadata is flattened to dotted keys (`a.b`), arrays to their text, so every field is a string
/// that a log shipper can index; the request-outcome line's `request_id` is the ledger row's.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    /// One `write(2)` per line, one line at a time: lines from concurrent tasks never interleave.
    private static let output = Mutex(())

    init(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let given = event.metadata { merged.merge(given) { $1 } }
        var fields: [(key: String, value: String)] = []
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) { Self.flatten(value, key: key, into: &fields) }
        if let error = event.error, merged["error"] == nil { fields.append((key: "error", value: "\(error)")) }
        let line = JSONLogLine.encode(at: .now(), level: event.level.rawValue, label: label,
                                      message: event.message.description, fields: fields)
        Self.output.withLock { _ in
            var bytes = Array(line.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { Foundation.write(2, $0.baseAddress, $0.count) }
                guard written > 0 else { return }
                bytes = bytes.dropFirst(written)
            }
        }
    }

    private static func flatten(_ value: Logger.MetadataValue, key: String, into fields: inout [(key: String, value: String)]) {
        switch value {
        case let .dictionary(nested):
            for (inner, value) in nested.sorted(by: { $0.key < $1.key }) { flatten(value, key: key + "." + inner, into: &fields) }
        default:
            fields.append((key: key, value: value.description))
        }
    }
}
