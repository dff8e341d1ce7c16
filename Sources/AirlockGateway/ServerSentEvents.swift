import NIOCore

/// Splits an engine's `text/event-stream` body into whole events, whatever the chunking of the
/// bytes on the wire. An event ends at a blank line (`\n\n` or `\r\n\r\n`).
struct ServerSentEventSplitter {
    private var pending = ByteBuffer()
    /// An event longer than this is an engine fault, not a reason to buffer without bound.
    static let maxEventBytes = 8 * 1024 * 1024

    struct Oversized: Error {}

    /// Appends `bytes` and returns every event now complete, each with its terminating blank line.
    mutating func feed(_ bytes: ByteBuffer) throws -> [ByteBuffer] {
        var bytes = bytes
        pending.writeBuffer(&bytes)
        var events: [ByteBuffer] = []
        while let end = Self.eventEnd(in: pending) {
            events.append(pending.readSlice(length: end)!)
        }
        if pending.readableBytes > Self.maxEventBytes { throw Oversized() }
        pending.discardReadBytes()
        return events
    }

    /// Bytes left over at the end of the stream: an event the engine never finished.
    var remainder: Int { pending.readableBytes }

    private static func eventEnd(in buffer: ByteBuffer) -> Int? {
        buffer.withUnsafeReadableBytes { bytes -> Int? in
            var index = 0
            while index + 1 < bytes.count {
                if bytes[index] == UInt8(ascii: "\n") {
                    if bytes[index + 1] == UInt8(ascii: "\n") { return index + 2 }
                    if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\r"), bytes[index + 2] == UInt8(ascii: "\n") {
                        return index + 3
                    }
                }
                index += 1
            }
            return nil
        }
    }
}

/// One server-sent event's `data:` payload, if it has one (multi-line data joined by `\n`).
/// Read as bytes: the usual event is a single `data:` line, whose payload is a slice of the
/// event, with no copy and no `String` (one per streamed token otherwise).
enum ServerSentEvent {
    /// An event whose one `data:` line is `payload`, ready to write in one piece.
    static func event(data payload: ByteBuffer) -> ByteBuffer {
        var event = ByteBuffer(string: "data: ")
        event.writeImmutableBuffer(payload)
        event.writeString("\n\n")
        return event
    }

    static func data(of event: ByteBuffer) -> ByteBuffer? {
        event.withUnsafeReadableBytes { bytes -> ByteBuffer? in
            var payload: ByteBuffer?
            var lineStart = 0
            while lineStart < bytes.count {
                var lineEnd = lineStart
                while lineEnd < bytes.count, bytes[lineEnd] != .newline, bytes[lineEnd] != .carriageReturn { lineEnd += 1 }
                let line = bytes[lineStart..<lineEnd]
                if line.starts(with: "data:".utf8) {
                    var valueStart = lineStart + 5
                    if valueStart < lineEnd, bytes[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
                    if payload == nil {
                        payload = event.getSlice(at: event.readerIndex + valueStart, length: lineEnd - valueStart)
                    } else {
                        payload!.writeInteger(UInt8.newline)
                        payload!.writeBytes(bytes[valueStart..<lineEnd])
                    }
                }
                // A line ends at CR, LF or CRLF.
                lineStart = lineEnd + 1
                if lineEnd + 1 < bytes.count, bytes[lineEnd] == .carriageReturn, bytes[lineEnd + 1] == .newline { lineStart += 1 }
            }
            return payload
        }
    }
}
