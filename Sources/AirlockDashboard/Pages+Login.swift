import AirlockAdmin
import AirlockAdminAPI
import AirlockCore
import Foundation
import Hummingbird

/// Signing in and out. The sign-in form is protected by a double-submit token (a random value
/// both in a SameSite=Strict cookie and in the form), so another site cannot sign a browser in
/// to an account of its choosing.
extension Dashboard {
    static let loginCookie = "airlock_login"

    func loginPage(_ request: Request, error: String?, status: HTTPResponse.Status = .ok) -> Response {
        let token = SessionStore.randomToken()
        let message = error.map { "<p class=\"error\" id=\"error\">\(HTML.text($0))</p>" } ?? ""
        let body = """
            <div class="login">\(message)
            <form method="post" action="/login" id="login"><input type="hidden" name="csrf" value="\(token)">
            \(HTML.input("name", label: "User name", required: true))
            \(HTML.input("password", label: "Password", type: "password", required: true))
            <button type="submit" id="sign-in">Sign in</button></form></div>
            """
        var response = Self.html(status, HTML.page(title: "Sign in", principal: nil, csrf: nil, active: "/login", body))
        response.setCookie(Cookie(name: Self.loginCookie, value: token, path: "/login", secure: true, httpOnly: true, sameSite: .strict))
        return response
    }

    func signIn(_ request: Request, origin: String) async -> Response {
        guard let body = try? await request.body.collect(upTo: 16 * 1024) else {
            return loginPage(request, error: "The form is too large.", status: .contentTooLarge)
        }
        let form = FormFields(String(buffer: body))
        guard let cookie = request.cookies[Self.loginCookie]?.value, let sent = form["csrf"], !cookie.isEmpty,
              sent == cookie else {
            return loginPage(request, error: "The sign-in form expired; please try again.", status: .forbidden)
        }
        do {
            let (_, sessionCookie, _) = try await api.startSession(name: form["name"] ?? "", password: form["password"] ?? "", origin: origin)
            var response = Self.redirect("/")
            response.setCookie(sessionCookie)
            response.setCookie(Cookie(name: Self.loginCookie, value: "", maxAge: 0, path: "/login", secure: true, httpOnly: true, sameSite: .strict))
            return response
        } catch let error as AccessError {
            return loginPage(request, error: error.description, status: .unauthorized)
        } catch {
            api.dependencies.logger.error("sign-in failed", metadata: ["error": "\(error)"])
            return loginPage(request, error: "Sign-in could not be completed; see the appliance log.", status: .internalServerError)
        }
    }

    static var sessionPages: [DashboardPage] { [
        DashboardPage(.post, "/logout", nil) { dashboard, call in
            var response = Dashboard.redirect("/login")
            response.setCookie(await dashboard.api.endSession(token: call.sessionToken, principal: call.principal))
            return response
        },
    ] }
}
