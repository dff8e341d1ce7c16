import AirlockAdmin
import AirlockCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// One admin-API operation: method, path (OpenAPI syntax, `{org}`), the permission it needs, and
/// its handler. `AdminAPI.routes` is the whole list: the router, `docs/openapi.yaml`'s test and
/// the role × route test all read it, so no route can exist without being checked.
public struct AdminRoute: Sendable {
    public enum Access: Sendable, Equatable {
        /// No session needed (signing in).
        case open
        /// Any signed-in principal (who am I, sign out, change my own password).
        case signedIn
        case permission(Permission)
    }

    public let method: HTTPRequest.Method
    public let path: String
    public let access: Access
    /// The audit action name a denial is recorded under, and the OpenAPI operationId.
    public let operation: String
    let handler: @Sendable (AdminAPI, AdminCall) async throws -> AdminReply
    /// The largest body this operation reads (413 beyond).
    let maxBodyBytes: Int

    init(_ method: HTTPRequest.Method, _ path: String, _ access: Access, _ operation: String, maxBodyBytes: Int = AdminAPI.maxBodyBytes,
         _ handler: @escaping @Sendable (AdminAPI, AdminCall) async throws -> AdminReply) {
        self.maxBodyBytes = maxBodyBytes
        self.method = method
        self.path = path
        self.access = access
        self.operation = operation
        self.handler = handler
    }

    /// The path as Hummingbird's router spells parameters (`:org`).
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
        }.joined(separator: "/")
    }

    var parameterNames: [String] {
        path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) }
    }
}

/// What a handler gets: who is asking and what they sent.
public struct AdminCall: Sendable {
    public let principal: AdminPrincipal
    let parameters: [String: String]
    let query: [String: String]
    let body: ByteBuffer
    /// Where the request came from, for sign-in audit rows.
    let origin: String
    /// The session cookie's token, if the request carried one (signing out needs it).
    let sessionToken: String?
    let contentType: String?

    func parameter(_ name: String) -> String { parameters[name] ?? "" }

    func query(_ name: String) -> String? { query[name] }

    /// The JSON object body, accepting only `allowed` fields.
    func json(allowing allowed: Set<String>) throws -> AdminBody {
        try AdminBody(body, allowed: allowed)
    }
}

/// A reply: JSON (or CSV, or nothing) plus any cookie to set.
public struct AdminReply: Sendable {
    var status: HTTPResponse.Status
    var contentType: String?
    var body: ByteBuffer
    var cookies: [Cookie] = []

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> AdminReply {
        AdminReply(status: status, contentType: "application/json", body: ByteBuffer(data: try AdminJSON.encoder.encode(value)))
    }

    static let noContent = AdminReply(status: .noContent, contentType: nil, body: ByteBuffer())

    /// A file to save, e.g. an activation request to carry to the vendor.
    var attachment: String?

    func response() -> Response {
        var headers: HTTPFields = [.cacheControl: "no-store"]
        if let contentType { headers[.contentType] = contentType }
        if let attachment { headers[.contentDisposition] = "attachment; filename=\"\(attachment)\"" }
        var response = Response(status: status, headers: headers, body: .init(byteBuffer: body))
        for cookie in cookies { response.setCookie(cookie) }
        return response
    }
}

/// The admin API's JSON conventions: snake_case keys, sorted for stable output.
enum AdminJSON {
    /// Made once: every admin answer goes through it.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

/// A list answer in OpenAI's shape: `{"object":"list","data":[…],"has_more":…,"first_id","last_id"}`,
/// paged with `?limit=` (1–1000, default 100) and `?after=<last id of the previous page>`.
struct AdminPage<Item: Encodable & Sendable>: Encodable, Sendable {
    var object = "list"
    var data: [Item]
    var hasMore: Bool
    var firstId: String?
    var lastId: String?

    static func of(_ items: [Item], id: (Item) -> String, call: AdminCall) throws -> AdminPage {
        let limit = try AdminPage.limit(call)
        var rest = items[...]
        if let after = call.query("after") {
            guard let index = items.firstIndex(where: { id($0) == after }) else {
                throw AirlockError.invalidArgument("after: '\(after.controlCharactersReplaced.clipped(to: 80))' is not an id in this list")
            }
            rest = items[(index + 1)...]
        }
        let page = Array(rest.prefix(limit))
        return AdminPage(data: page, hasMore: rest.count > limit, firstId: page.first.map(id), lastId: page.last.map(id))
    }

    static func limit(_ call: AdminCall) throws -> Int {
        guard let text = call.query("limit") else { return 100 }
        guard let limit = Int(text), (1...1000).contains(limit) else {
            throw AirlockError.invalidArgument("limit must be a whole number from 1 to 1000")
        }
        return limit
    }
}
