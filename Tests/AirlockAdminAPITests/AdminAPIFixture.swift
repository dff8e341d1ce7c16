import AirlockAdmin
import AirlockAdminAPI
import AirlockCore
import AirlockIdentity
import AirlockLicensing
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// A real admin API over a real SQLite store in a temporary directory, driven through
/// HummingbirdTesting's in-process router client. Seeded with two orgs (acme, globex), an
/// environment and a key in each, an enrolled node, a model, and one user of every role (the
/// org-admin is acme's), plus a throwaway user for the user-management routes to act on.
final class AdminAPIFixture: Sendable {
    /// The signed-in user for each role, and the password each was made with.
    static let userNames: [AdminRole: String] = [
        .admin: "root", .operator: "ops", .auditor: "audi", .viewer: "vera", .orgAdmin: "acme-admin",
    ]
    /// A user that exists to be changed (role, disable, password) without touching anyone signed in.
    static let throwawayUser = "target"
    static let model = "llama-3-8b"

    static func password(for name: String) -> String { "pw-\(name)-long-enough" }

    struct Seed: Sendable {
        var acme: Org
        var globex: Org
        var acmeEnv: AirlockCore.Environment
        var globexEnv: AirlockCore.Environment
        var acmeKey: String
        var globexKey: String
        var node: String
    }

    let dir: TemporaryDirectory
    let clock: ManualClock
    let store: Store
    let actions: AdminActions
    let sessions: SessionStore
    let api: AdminAPI
    let bearerToken: String
    let seed: Seed

    static let setupActor = AdminActor("cli:setup")

    init(idleSeconds: Int64 = 15 * 60) async throws {
        let dir = TemporaryDirectory("airlock-admin-api")
        let clock = ManualClock()
        let store = try Store(dataDirectory: dir.path)
        var actions = AdminActions(store: store, hasher: try KeyHasher.loadOrCreate(dataDirectory: dir.path),
                                   clock: clock.wallClock, rotationGraceSeconds: 60)
        actions.passwordCost = .testing
        let sessions = SessionStore(idleSeconds: idleSeconds)
        let credential = try LocalAdminCredential.openOrCreate(dataDirectory: dir.path)
        let token = try String(contentsOfFile: LocalAdminCredential.path(dataDirectory: dir.path), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let license = LicenseStatus.evaluate(.success(nil), now: clock.now.value)
        var logger = Logger(label: "airlock.admin-api.test")
        logger.logLevel = .critical
        api = AdminAPI(.init(
            actions: actions, ledger: LedgerAudit(store: store), sessions: sessions, credential: credential,
            liveNodes: { nil }, license: { license }, clock: clock.wallClock, logger: logger))

        let by = Self.setupActor
        let acme = try await actions.createOrg(name: "acme", by: by)
        let globex = try await actions.createOrg(name: "globex", by: by)
        let acmeEnv = try await actions.createEnvironment(org: acme.id.rawValue, name: "prod", by: by)
        let globexEnv = try await actions.createEnvironment(org: globex.id.rawValue, name: "prod", by: by)
        let acmeKey = try await actions.createKey(org: acme.id.rawValue, env: acmeEnv.id.rawValue, name: "ci", expiresAt: nil,
                                                  allowedModels: nil, by: by)
        let globexKey = try await actions.createKey(org: globex.id.rawValue, env: globexEnv.id.rawValue, name: "ci", expiresAt: nil,
                                                    allowedModels: nil, by: by)
        _ = try await actions.addModel(name: Self.model, by: by)
        let enrolment = try await actions.enrollNode(name: "gpu-01", org: nil, zone: nil, by: by)
        _ = try await actions.redeemEnrolment(token: enrolment.token) { node in
            ("-----BEGIN CERTIFICATE-----\n\(node.id.rawValue)\n-----END CERTIFICATE-----\n", String(repeating: "ab", count: 32))
        }
        for role in AdminRole.allCases {
            let name = Self.userNames[role]!
            _ = try await actions.createUser(name: name, role: role, org: role == .orgAdmin ? acme.id.rawValue : nil,
                                             password: Self.password(for: name), by: by)
        }
        _ = try await actions.createUser(name: Self.throwawayUser, role: .viewer, org: nil,
                                         password: Self.password(for: Self.throwawayUser), by: by)

        self.dir = dir
        self.clock = clock
        self.store = store
        self.actions = actions
        self.sessions = sessions
        self.bearerToken = token
        self.seed = Seed(acme: acme, globex: globex, acmeEnv: acmeEnv, globexEnv: globexEnv, acmeKey: acmeKey.key.id.rawValue,
                         globexKey: globexKey.key.id.rawValue, node: enrolment.node.id.rawValue)
    }

    /// Runs `body` against the API mounted on a fresh router, in process.
    func withClient<T: Sendable>(_ body: @escaping @Sendable (AdminClient) async throws -> T) async throws -> T {
        let router = Router<BasicRequestContext>()
        api.add(to: router)
        let app = Application(router: router)
        return try await app.test(.router) { client in
            try await body(AdminClient(client: client, fixture: self))
        }
    }

    /// Every audit row, oldest first.
    func auditTrail() async throws -> [AuditEntry] {
        try await store.read { try $0.auditTrail() }
    }

    /// Audit rows with `action`, oldest first.
    func audit(_ action: String) async throws -> [AuditEntry] {
        try await auditTrail().filter { $0.action == action }
    }

    func passwordHash(of user: String) async throws -> String? {
        try await store.read { try $0.userCredential(named: user) }?.passwordHash
    }
}

/// How a request authenticates.
enum Auth: Sendable {
    case anonymous
    /// The session cookie; `csrf` goes in `X-CSRF-Token` when not nil.
    case session(cookie: String, csrf: String?)
    case bearer(String)

    /// The same session without (or with another) CSRF token.
    func withCSRF(_ token: String?) -> Auth {
        if case let .session(cookie, _) = self { return .session(cookie: cookie, csrf: token) }
        return self
    }
}

/// One answer: status, headers and the body as text, with JSON helpers.
struct APIResponse: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var text: String

    var code: Int { status.code }

    /// The body as a JSON object (empty when it is not one).
    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// `data` of a list answer.
    var list: [[String: Any]] { object["data"] as? [[String: Any]] ?? [] }

    var error: [String: Any]? { object["error"] as? [String: Any] }
    var errorCode: String? { error?["code"] as? String }
    var errorMessage: String? { error?["message"] as? String }

    /// Whether the body is exactly OpenAI's error shape: `{"error":{"message","type","param","code"}}`.
    var hasOpenAIErrorShape: Bool {
        guard object.count == 1, let error, Set(error.keys) == ["message", "type", "param", "code"] else { return false }
        return error["message"] is String && error["type"] is String && error["code"] is String
            && (error["param"] is NSNull || error["param"] is String)
    }
}

/// A client for `/admin/v1`, bound to one fixture.
struct AdminClient: Sendable {
    let client: any TestClientProtocol
    let fixture: AdminAPIFixture

    @discardableResult
    func send(_ method: HTTPRequest.Method, _ path: String, json body: String? = nil, bytes: ByteBuffer? = nil,
              as auth: Auth) async throws -> APIResponse {
        var headers: HTTPFields = [:]
        switch auth {
        case .anonymous: break
        case let .session(cookie, csrf):
            headers[.cookie] = "\(AdminAPI.sessionCookie)=\(cookie)"
            if let csrf { headers[HTTPField.Name("X-CSRF-Token")!] = csrf }
        case let .bearer(token):
            headers[.authorization] = "Bearer \(token)"
        }
        var buffer = bytes
        if let body {
            headers[.contentType] = "application/json"
            buffer = ByteBuffer(string: body)
        }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: buffer)
        return APIResponse(status: response.status, headers: response.headers, text: String(buffer: response.body))
    }

    /// Signs in through `POST /admin/v1/sessions` (which must succeed) and returns the session.
    func signIn(_ name: String, password: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Auth {
        let response = try await attemptSignIn(name, password: password ?? AdminAPIFixture.password(for: name))
        try #require(response.status == .created, "sign-in as \(name): \(response.code) \(response.text)", sourceLocation: sourceLocation)
        let cookie = try #require(Self.sessionCookie(in: response), "no session cookie in \(response.headers)", sourceLocation: sourceLocation)
        let csrf = try #require(response.object["csrf_token"] as? String, "no csrf_token in \(response.text)", sourceLocation: sourceLocation)
        return .session(cookie: cookie, csrf: csrf)
    }

    func signIn(as role: AdminRole) async throws -> Auth {
        try await signIn(AdminAPIFixture.userNames[role]!)
    }

    func attemptSignIn(_ name: String, password: String) async throws -> APIResponse {
        try await send(.post, "/admin/v1/sessions", json: Self.json(["name": name, "password": password]), as: .anonymous)
    }

    var bearer: Auth { .bearer(fixture.bearerToken) }

    /// The `airlock_session` value a `Set-Cookie` header carries.
    static func sessionCookie(in response: APIResponse) -> String? {
        for value in response.headers[values: .setCookie] {
            let pair = value.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            let prefix = AdminAPI.sessionCookie + "="
            if pair.hasPrefix(prefix) { return String(pair.dropFirst(prefix.count)) }
        }
        return nil
    }

    static func json(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
