import AirlockAdmin
import AirlockAdminAPI
import AirlockCore
import Foundation
import NIOCore
import Hummingbird

/// Nodes, the model catalog, the licence and users.
extension Dashboard {
    static var operationPages: [DashboardPage] { [
        DashboardPage(.get, "/nodes", .readInfrastructure) { dashboard, call in try await dashboard.nodes(call) },
        DashboardPage(.post, "/nodes/:node/drain", .manageInfrastructure) { dashboard, call in
            _ = try await dashboard.actions.setNodeDraining(call.parameter("node"), true, by: call.principal.actor)
            return Dashboard.redirect("/nodes")
        },
        DashboardPage(.post, "/nodes/:node/resume", .manageInfrastructure) { dashboard, call in
            _ = try await dashboard.actions.setNodeDraining(call.parameter("node"), false, by: call.principal.actor)
            return Dashboard.redirect("/nodes")
        },
        DashboardPage(.get, "/models", .readTenancy) { dashboard, call in try await dashboard.models(call) },
        DashboardPage(.post, "/models", .manageInfrastructure) { dashboard, call in
            _ = try await dashboard.actions.addModel(name: try call.form.required("name", label: "Model name"), by: call.principal.actor)
            return Dashboard.redirect("/models")
        },
        DashboardPage(.post, "/models/remove", .manageInfrastructure) { dashboard, call in
            _ = try await dashboard.actions.removeModel(name: try call.form.required("name", label: "Model name"), by: call.principal.actor)
            return Dashboard.redirect("/models")
        },
        DashboardPage(.get, "/license", .readInfrastructure) { dashboard, call in dashboard.license(call) },
        DashboardPage(.post, "/license/request", .manageLicense, takesFile: true) { dashboard, call in
            let request = try await dashboard.api.licenseRequest(licenseFile: try Dashboard.uploaded(call), by: call.principal.actor)
            return Response(status: .ok, headers: [.contentType: "application/json", .contentDisposition: "attachment; filename=\"activation-request.json\""],
                            body: .init(byteBuffer: ByteBuffer(data: request)))
        },
        DashboardPage(.post, "/license/activate", .manageLicense, takesFile: true) { dashboard, call in
            _ = try await dashboard.api.activateLicense(activationFile: try Dashboard.uploaded(call), by: call.principal.actor)
            return Dashboard.redirect("/license")
        },
        DashboardPage(.get, "/users", .manageUsers) { dashboard, call in try await dashboard.users(call) },
        DashboardPage(.post, "/users", .manageUsers) { dashboard, call in
            guard let role = AdminRole(rawValue: call.form["role"] ?? "") else { throw AirlockError.invalidArgument("choose a role") }
            _ = try await dashboard.actions.createUser(
                name: try call.form.required("name", label: "User name"), role: role, org: call.form.value("org"),
                password: call.form["password"] ?? "", by: call.principal.actor)
            return Dashboard.redirect("/users")
        },
        DashboardPage(.post, "/users/:user/disable", .manageUsers) { dashboard, call in
            let user = try await dashboard.actions.setUserStatus(call.parameter("user"), .disabled, by: call.principal.actor)
            dashboard.api.dependencies.sessions.closeAll(user: user.name)
            return Dashboard.redirect("/users")
        },
        DashboardPage(.post, "/users/:user/enable", .manageUsers) { dashboard, call in
            _ = try await dashboard.actions.setUserStatus(call.parameter("user"), .active, by: call.principal.actor)
            return Dashboard.redirect("/users")
        },
    ] }

    static var pages: [DashboardPage] { sessionPages + recordPages + chargebackPages + tenantPages + limitPages + operationPages + upgradePages }

    private func nodes(_ call: PageCall) async throws -> Response {
        let manage = call.principal.may(.manageInfrastructure)
        let rows = try await api.nodeViews().map { view -> [String] in
            let live = view.live
            var state = live?.state ?? (view.node?.enrolment.rawValue ?? "unknown")
            if view.node?.draining == true, live == nil { state = "draining" }
            var buttons = ""
            if manage, let node = view.node, node.enrolment == .enrolled {
                buttons = HTML.form(action: "/nodes/\(node.id.rawValue)/\(node.draining ? "resume" : "drain")", csrf: call.csrf, "",
                                    submit: node.draining ? "Resume" : "Drain", danger: !node.draining)
            }
            return [HTML.text(view.node?.name ?? live?.name ?? view.id), HTML.badge(state), HTML.text(live?.zone ?? view.node?.zone ?? "-"),
                    HTML.text(live?.models.joined(separator: ", ") ?? "-"), live.map { String(format: "%.2f", $0.load) } ?? "-",
                    live.map { "\($0.requestsInFlight)" } ?? "-", live.map { "\($0.gpus)" } ?? "-", Self.gpuSummary(live),
                    HTML.text(live?.summary ?? ""), buttons]
        }
        let body = HTML.table(id: "nodes", ["Node", "State", "Zone", "Models", "Load", "In flight", "GPUs", "Hottest GPU · memory", "Health", ""], rows,
                              empty: "No nodes. Enrol one with `airlock node enroll NAME` and start airlock-agent on the GPU host.")
        return call.page("Nodes", active: "/nodes", body)
    }

    /// `71 °C · 38.2 / 80.0 GiB` from the last metrics report, or `-`.
    static func gpuSummary(_ live: LiveNodesSnapshot.Entry?) -> String {
        guard let live else { return "-" }
        var parts: [String] = []
        if let temperature = live.gpuTemperatureCelsius { parts.append(String(format: "%.0f °C", temperature)) }
        if let used = live.gpuMemoryUsedMiB, let total = live.gpuMemoryTotalMiB, total > 0 {
            parts.append(String(format: "%.1f / %.1f GiB", Double(used) / 1024, Double(total) / 1024))
        }
        return parts.isEmpty ? "-" : HTML.text(parts.joined(separator: " · "))
    }

    private func models(_ call: PageCall) async throws -> Response {
        let manage = call.principal.may(.manageInfrastructure)
        let rows = try await actions.listModels().map { model in
            ["<code>\(HTML.text(model.name))</code>", HTML.text(model.createdAt.description),
             manage ? HTML.form(action: "/models/remove", csrf: call.csrf, "<input type=\"hidden\" name=\"name\" value=\"\(HTML.text(model.name))\">",
                                submit: "Remove", danger: true) : ""]
        }
        var body = HTML.table(id: "models", ["Model", "Added", ""], rows, empty: "The catalog is empty.")
        if manage {
            body += "<h2>Add a model</h2>" + HTML.form(action: "/models", csrf: call.csrf, id: "add-model",
                                                       HTML.input("name", label: "Name, exactly as clients send it", required: true), submit: "Add")
        }
        return call.page("Models", active: "/models", body)
    }

    private func license(_ call: PageCall) -> Response {
        guard let status = api.dependencies.license() else { return call.page("Licence", active: "/license", "<p>Not judged yet.</p>") }
        let entitlements = status.entitlements
        let rows: [[String]] = [
            ["State", HTML.badge(status.state.rawValue)], ["Licence", HTML.text(status.licenseID ?? "-")], ["Customer", HTML.text(status.customer ?? "-")],
            ["Expires", HTML.text(status.expiresAt.map { UnixMillis($0 * 1000).description } ?? "-")],
            ["Days left", status.daysLeft.map { "\($0)" } ?? "-"], ["Nodes / GPUs", "\(entitlements.maxNodes) / \(entitlements.maxGPUs)"],
            ["Orgs", "\(entitlements.maxOrgs)"], ["Features", HTML.text(entitlements.features.map(\.rawValue).sorted().joined(separator: ", "))],
            ["Problem", HTML.text(status.problem ?? "-")],
        ]
        var body = HTML.table(id: "license", ["", ""], rows)
        body += """
            <p class="note">Activation and renewal are offline (docs/OPERATIONS.md): make an activation request from the \
            licence file, carry it to the vendor on removable media, and upload the activation file they send back. \
            The same steps on the appliance: <code>airlock license request</code> and <code>airlock license activate</code>.</p>
            """
        if call.principal.may(.manageLicense) {
            body += "<h2>1. Activation request</h2>" + Self.uploadForm(action: "/license/request", csrf: call.csrf, id: "license-request",
                                                                   label: "Licence file (.lic)", submit: "Download the activation request")
            body += "<h2>2. Activation</h2>" + Self.uploadForm(action: "/license/activate", csrf: call.csrf, id: "license-activate",
                                                          label: "Activation file from the vendor", submit: "Activate")
        }
        return call.page("Licence", active: "/license", body)
    }

    static func uploadForm(action: String, csrf: String, id: String, label: String, submit: String) -> String {
        """
        <form method="post" action="\(HTML.text(action))" enctype="multipart/form-data" id="\(HTML.text(id))">\
        <input type="hidden" name="csrf" value="\(HTML.text(csrf))"><label>\(HTML.text(label)) <input type="file" name="file" required></label>\
        <button type="submit">\(HTML.text(submit))</button></form>
        """
    }

    static func uploaded(_ call: PageCall) throws -> Data {
        guard let file = call.file else { throw AirlockError.invalidArgument("choose a file to upload") }
        return file
    }

    private func users(_ call: PageCall) async throws -> Response {
        let rows = try await actions.listUsers().map { user in
            [HTML.text(user.name), HTML.text(user.role.rawValue), HTML.text(user.orgID?.rawValue ?? "-"), HTML.badge(user.status.rawValue),
             HTML.text(user.lockedUntil?.description ?? "-"),
             HTML.form(action: "/users/\(user.name)/\(user.status == .active ? "disable" : "enable")", csrf: call.csrf, "",
                       submit: user.status == .active ? "Disable" : "Enable", danger: user.status == .active)]
        }
        let roles = AdminRole.allCases.map { ($0.rawValue, $0.rawValue) }
        let body = HTML.table(id: "users", ["User", "Role", "Org", "Status", "Locked until", ""], rows)
            + "<h2>New user</h2>" + HTML.form(action: "/users", csrf: call.csrf, id: "create-user",
                HTML.input("name", label: "Name", required: true) + HTML.select("role", label: "Role", options: roles, selected: "viewer")
                + HTML.input("org", label: "Org (org-admin only)") + HTML.input("password", label: "Password (12+ characters)", type: "password", required: true),
                submit: "Create user")
        return call.page("Users", active: "/users", body)
    }
}
