import AirlockAdmin
import AirlockCore
import AirlockStore
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOFoundationCompat

/// The running daemon's admin API, reached over its local socket (`<data_dir>/run/admin.sock`,
/// plain HTTP that never leaves the host, guarded by the socket's 0600 mode and the local admin
/// credential). While `airlockd` runs, every admin command goes through it, so the daemon's own
/// `AdminActions` applies the change — its sessions, caches and licence see it at once — and
/// audits it under the CLI's actor (sent in `X-Airlock-Actor`).
struct DaemonAdmin: AdminService {
    let socketPath: String
    let token: String
    let actorClaim: String

    /// The daemon, if it answers on its socket with this data directory's credential; nil when it
    /// is not running (the CLI then acts on the data directory itself).
    static func connect(dataDirectory: String, actor: AdminActor) async -> DaemonAdmin? {
        let socket = AirlockConfig.adminSocketPath(dataDirectory: dataDirectory)
        guard FileManager.default.fileExists(atPath: socket),
              let token = try? String(contentsOfFile: dataDirectory + "/secrets/admin-api.token", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        else { return nil }
        let daemon = DaemonAdmin(socketPath: socket, token: token, actorClaim: actor.name)
        guard (try? await daemon.call(.GET, "/admin/v1/me", timeout: .seconds(3)) as Probe) != nil else { return nil }
        return daemon
    }

    private struct Probe: Decodable { var actor: String }

    // MARK: - Transport

    /// One request; the answer decoded, or the API's error message thrown as the CLI's error.
    func call<T: Decodable>(_ method: HTTPMethod, _ path: String, _ body: [String: Any?]? = nil,
                            timeout: TimeAmount = .seconds(60), decoder: JSONDecoder = decoder) async throws -> T {
        guard let value: T = try await callAllowingEmpty(method, path, body, timeout: timeout, decoder: decoder) else {
            throw AirlockError.invalidArgument("the daemon answered \(method.rawValue) \(path) with no content")
        }
        return value
    }

    /// Like `call`, but a 204 (nothing to return, e.g. a reservation cleared) is nil.
    /// `decoder`: types whose coding keys are the API's snake_case names bring a plain one.
    func callAllowingEmpty<T: Decodable>(_ method: HTTPMethod, _ path: String, _ body: [String: Any?]? = nil,
                                         timeout: TimeAmount = .seconds(60), decoder: JSONDecoder = decoder) async throws -> T? {
        let (status, bytes) = try await send(method, path, body, timeout: timeout)
        guard (200..<300).contains(status.code) else { throw Self.failure(status, bytes) }
        if status.code == 204 { return nil }
        return try decoder.decode(T.self, from: bytes)
    }

    /// A list route followed page by page to the end.
    func list<T: Decodable>(_ path: String) async throws -> [T] {
        var items: [T] = []
        var after: String?
        repeat {
            let separator = path.contains("?") ? "&" : "?"
            let page: Page<T> = try await call(.GET, path + separator + "limit=1000" + (after.map { "&after=" + Self.component($0) } ?? ""))
            items += page.data
            after = page.hasMore ? page.lastID : nil
        } while after != nil
        return items
    }

    private struct Page<T: Decodable>: Decodable {
        var data: [T]
        var hasMore: Bool
        var lastID: String?
    }

    private func send(_ method: HTTPMethod, _ path: String, _ body: [String: Any?]?, timeout: TimeAmount) async throws -> (HTTPResponseStatus, ByteBuffer) {
        let encodedSocket = socketPath.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socketPath
        var request = HTTPClientRequest(url: "http+unix://\(encodedSocket)\(path)")
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "X-Airlock-Actor", value: actorClaim)
        if let body {
            let object = body.mapValues { $0 ?? NSNull() }
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: object)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        return (response.status, try await response.body.collect(upTo: 64 * 1024 * 1024))
    }

    private static func failure(_ status: HTTPResponseStatus, _ bytes: ByteBuffer) -> AirlockError {
        struct Failure: Decodable {
            struct Detail: Decodable { var message: String }
            var error: Detail
        }
        let message = (try? JSONDecoder().decode(Failure.self, from: bytes))?.error.message
        return .invalidArgument(message ?? "the daemon answered \(status.code) \(status.reasonPhrase)")
    }

    /// The admin API's snake_case back into the Swift names (`org_id` → `orgID`,
    /// `certificate_sha256` → `certificateSHA256`).
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom { path in
            let words = path.last!.stringValue.split(separator: "_").map(String.init)
            let name = words.enumerated().map { index, word -> String in
                if index == 0 { return word }
                switch word {
                case "id": return "ID"
                case "sha256": return "SHA256"
                default: return word.prefix(1).uppercased() + word.dropFirst()
                }
            }.joined()
            return AnyKey(name)
        }
        return decoder
    }()

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static func component(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}
