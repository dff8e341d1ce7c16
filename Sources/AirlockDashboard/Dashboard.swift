import AirlockAdmin
import AirlockAdminAPI
import AirlockCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The local dashboard on 8443 (`/`, `/login`, the pages below): server-rendered HTML over the
/// admin API's sessions and `AdminActions`, so a page can do exactly what the API lets the same
/// user do, audited the same way. No script at all; one embedded stylesheet; every response
/// carries a strict Content-Security-Policy and is never cached.
public struct Dashboard: Sendable {
    let api: AdminAPI
    /// How the API's requests ended lately (the gateway's tally), for the overview.
    let traffic: @Sendable () -> RecentTraffic?

    public init(api: AdminAPI, traffic: @escaping @Sendable () -> RecentTraffic? = { nil }) {
        self.api = api
        self.traffic = traffic
    }

    var actions: AdminActions { api.actions }
    var now: UnixMillis { api.dependencies.clock.now() }

    public func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("/assets/airlock.css") { _, _ in
            Self.secured(Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8"],
                                  body: .init(byteBuffer: ByteBuffer(string: Stylesheet.css))), cache: true)
        }
        router.get("/login") { request, _ in Self.secured(loginPage(request, error: nil)) }
        router.post("/login") { request, context in Self.secured(await signIn(request, origin: ApplianceRequestContext.origin(of: context))) }
        for page in Self.pages {
            router.on(RouterPath(page.path), method: page.method) { request, context in
                Self.secured(await serve(page, request: request, context: context))
            }
        }
    }

    /// The headers every dashboard response carries: only this origin's stylesheet may load, no
    /// framing, no sniffing, no referrer, never stored by a cache (pages can hold secrets).
    static func secured(_ response: Response, cache: Bool = false) -> Response {
        var response = response
        response.headers[.contentSecurityPolicy] = "default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.init("X-Content-Type-Options")!] = "nosniff"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        response.headers[.cacheControl] = cache ? "max-age=3600" : "no-store"
        return response
    }

    private func serve<Context: RequestContext>(_ page: DashboardPage, request: Request, context: Context) async -> Response {
        let isPost = page.method == .post
        var form = FormFields()
        var upload: FileUpload?
        if isPost {
            let limit = page.takesFile ? AdminAPI.maxLicenseFileBytes : 64 * 1024
            guard let body = try? await request.body.collect(upTo: limit) else {
                return Self.html(.contentTooLarge, HTML.page(title: "Too large", principal: nil, csrf: nil, active: "",
                                                             "<p class=\"error\">The form is larger than \(limit / 1024) KiB.</p>"))
            }
            if page.takesFile {
                upload = FileUpload(body, contentType: request.headers[.contentType])
                form = FormFields(csrf: upload?.csrf ?? "")
            } else {
                form = FormFields(String(buffer: body))
            }
        }
        let authenticated: Authenticated
        do {
            authenticated = try await api.authenticate(request, mutating: isPost, csrfFormToken: isPost ? (form["csrf"] ?? "") : nil)
        } catch let error as AccessError {
            if case .forbidden = error { return errorPage(error, principal: nil, csrf: nil) }
            return Response(status: .seeOther, headers: [.location: "/login"])
        } catch {
            return Response(status: .seeOther, headers: [.location: "/login"])
        }
        let principal = authenticated.principal
        let csrf = authenticated.session?.csrfToken ?? ""
        if let permission = page.permission, !principal.may(permission) {
            try? await actions.auditAccessDenied(principal, action: page.path, target: request.uri.path)
            return errorPage(AccessError.forbidden("your role (\(principal.role.rawValue)) may not open this page"), principal: principal,
                             csrf: csrf)
        }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        var parameters: [String: String] = [:]
        for name in page.parameterNames { parameters[name] = context.parameters.get(name) }
        let call = PageCall(principal: principal, csrf: csrf, parameters: parameters, query: query, form: form,
                            sessionToken: request.cookies[AdminAPI.sessionCookie]?.value, file: upload?.file)
        do {
            return try await page.handler(self, call)
        } catch {
            return errorPage(error, principal: principal, csrf: csrf, page: page.path)
        }
    }

    /// A failure as a page, with the status and message the admin API would give.
    func errorPage(_ error: Error, principal: AdminPrincipal?, csrf: String?, page: String = "") -> Response {
        let failure = api.failure(error, operation: "dashboard \(page)")
        let message = failure.message
        return Self.html(failure.status, HTML.page(title: "Could not do that", principal: principal, csrf: csrf, active: "",
                                           "<p class=\"error\" id=\"error\">\(HTML.text(message))</p><p>\(HTML.link("/", "Back to the overview"))</p>"))
    }

    static func html(_ status: HTTPResponse.Status = .ok, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }
}

/// One dashboard page or form target and the permission it needs (nil: any signed-in user).
struct DashboardPage: Sendable {
    let method: HTTPRequest.Method
    let path: String
    let permission: Permission?
    /// A `multipart/form-data` form with one file (and the CSRF field), up to 1 MiB.
    let takesFile: Bool
    let handler: @Sendable (Dashboard, PageCall) async throws -> Response

    init(_ method: HTTPRequest.Method, _ path: String, _ permission: Permission?, takesFile: Bool = false,
         _ handler: @escaping @Sendable (Dashboard, PageCall) async throws -> Response) {
        self.takesFile = takesFile
        self.method = method
        self.path = path
        self.permission = permission
        self.handler = handler
    }

    var parameterNames: [String] { path.split(separator: "/").filter { $0.hasPrefix(":") }.map { String($0.dropFirst()) } }
}

/// What a page handler gets: who, their CSRF token (for the forms it renders), and the input.
struct PageCall: Sendable {
    let principal: AdminPrincipal
    let csrf: String
    let parameters: [String: String]
    let query: [String: String]
    let form: FormFields
    let sessionToken: String?
    /// The uploaded file of a `takesFile` page.
    let file: Data?

    func parameter(_ name: String) -> String { parameters[name] ?? "" }

    func page(_ title: String, active: String, _ body: String) -> Response {
        Dashboard.html(.ok, HTML.page(title: title, principal: principal, csrf: csrf, active: active, body))
    }
}

/// An `application/x-www-form-urlencoded` body.
struct FormFields: Sendable {
    private var fields: [String: String] = [:]

    init() {}

    init(csrf: String) { fields = ["csrf": csrf] }

    init(_ body: String) {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
    }

    subscript(_ name: String) -> String? { fields[name] }

    /// A field, or nil when absent or blank.
    func value(_ name: String) -> String? {
        guard let text = fields[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        return text
    }

    func required(_ name: String, label: String) throws -> String {
        guard let text = value(name) else { throw AirlockError.invalidArgument("\(label) is required") }
        return text
    }
}
