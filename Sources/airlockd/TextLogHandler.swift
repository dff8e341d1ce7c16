import Logging

/// swift-log's `StreamLogHandler` on stderr (the default text format, line for line the same),
/// except that metadata set on the logger is formatted when a line is written, not when it is
/// set. `StreamLogHandler` formats all of its metadata on every set, and Hummingbird sets
/// `hb.request.id` on a copy of the logger for every request — work done per request even when
/// the level writes nothing (~1 % of airlockd's CPU at 16 connections).
struct TextLogHandler: LogHandler {
    private var stream: StreamLogHandler
    var metadata: Logger.Metadata = [:]

    init(label: String, level: Logger.Level) {
        stream = StreamLogHandler.standardError(label: label)
        stream.logLevel = level
    }

    var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { stream.metadataProvider }
        set { stream.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The logger's metadata travels with the event, under the event's own (which wins, as in
    /// `StreamLogHandler`); the stream's own metadata stays empty.
    func log(event: LogEvent) {
        var event = event
        if !metadata.isEmpty { event.metadata = metadata.merging(event.metadata ?? [:]) { $1 } }
        stream.log(event: event)
    }
}
