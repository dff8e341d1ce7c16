import Foundation
import ZIPFoundation

extension Archive {
    /// One entry's bytes, CRC checked, refused past `limit` (a ZIP header's size may lie), with
    /// the caller's own errors for "too large" and "unreadable" (damaged or truncated).
    func contents(of entry: Entry, limit: Int64, tooLarge: @autoclosure () -> Error, unreadable: @autoclosure () -> Error) throws -> Data {
        struct TooLarge: Error {}
        var data = Data()
        do {
            _ = try extract(entry, skipCRC32: false) { chunk in
                guard Int64(data.count + chunk.count) <= limit else { throw TooLarge() }
                data.append(chunk)
            }
        } catch is TooLarge {
            throw tooLarge()
        } catch {
            throw unreadable()
        }
        return data
    }
}
