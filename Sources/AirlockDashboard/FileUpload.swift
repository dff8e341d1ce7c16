import Foundation
import MultipartKit
import NIOCore

/// A dashboard upload: `multipart/form-data` with the CSRF field and one file field, read with
/// MultipartKit. Anything else — no boundary, other fields, a missing part — is no upload.
struct FileUpload {
    var csrf: String
    var file: Data

    private struct Fields: Decodable {
        var csrf: String
        var file: Data
    }

    init?(_ body: ByteBuffer, contentType: String?) {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data"),
              let boundary = contentType.split(separator: ";").lazy.map({ $0.trimmingCharacters(in: .whitespaces) })
                .first(where: { $0.lowercased().hasPrefix("boundary=") })?.dropFirst("boundary=".count),
              let fields = try? FormDataDecoder().decode(Fields.self, from: body, boundary: String(boundary).trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
        else { return nil }
        csrf = fields.csrf
        file = fields.file
    }
}
