import AirlockAdmin
import AirlockCore
import AirlockLicensing
import Foundation
import NIOCore
import NIOFoundationCompat

/// Nodes, the model catalog and the licence: the operator's side of the appliance.
extension AdminAPI {
    static var infrastructureRoutes: [AdminRoute] {
        let read = AdminRoute.Access.permission(.readInfrastructure)
        let manage = AdminRoute.Access.permission(.manageInfrastructure)
        return [
            // Org-admins read the catalog too: they choose a key's allowed models from it.
            AdminRoute(.get, "/admin/v1/models", .permission(.readTenancy), "list models") { api, call in
                try .json(AdminPage.of(try await api.actions.listModels(), id: \.name, call: call))
            },
            AdminRoute(.post, "/admin/v1/models", manage, "add a model") { api, call in
                let body = try call.json(allowing: ["name"])
                return try .json(try await api.actions.addModel(name: try body.requiredString("name"), by: call.principal.actor), status: .created)
            },
            // Model names hold '/', so the name travels in the query, not the path.
            AdminRoute(.delete, "/admin/v1/models", manage, "remove a model") { api, call in
                guard let name = call.query("name") else { throw AirlockError.invalidArgument("name is required: DELETE /admin/v1/models?name=MODEL") }
                return try .json(try await api.actions.removeModel(name: name, by: call.principal.actor))
            },
            AdminRoute(.get, "/admin/v1/nodes", read, "list nodes") { api, call in
                try .json(AdminPage.of(try await api.nodeViews(), id: \.id, call: call))
            },
            AdminRoute(.post, "/admin/v1/nodes", manage, "enrol a node") { api, call in
                let body = try call.json(allowing: ["name", "org", "zone", "valid_for_seconds"])
                let issued = try await api.actions.enrollNode(
                    name: try body.requiredString("name"), org: try body.string("org"), zone: try body.string("zone"),
                    validForSeconds: Int64(try body.integer("valid_for_seconds") ?? Int(AdminActions.enrolmentTokenSeconds)),
                    by: call.principal.actor)
                return try .json(issued, status: .created)
            },
            AdminRoute(.get, "/admin/v1/nodes/{node}", read, "read a node") { api, call in
                let node = try await api.actions.node(call.parameter("node"))
                return try .json(NodeView(id: node.id.rawValue, node: node, live: api.live(node.id.rawValue)))
            },
            AdminRoute(.post, "/admin/v1/nodes/{node}/drain", manage, "drain a node") { api, call in
                try .json(try await api.actions.setNodeDraining(call.parameter("node"), true, by: call.principal.actor))
            },
            AdminRoute(.post, "/admin/v1/nodes/{node}/resume", manage, "resume a node") { api, call in
                try .json(try await api.actions.setNodeDraining(call.parameter("node"), false, by: call.principal.actor))
            },
            AdminRoute(.post, "/admin/v1/nodes/{node}/reload", manage, "reload a node's engine") { api, call in
                try .json(try await api.actions.requestEngineReload(call.parameter("node"), by: call.principal.actor))
            },
            AdminRoute(.post, "/admin/v1/nodes/{node}/revoke", manage, "revoke a node") { api, call in
                try .json(try await api.actions.revokeNode(call.parameter("node"), by: call.principal.actor))
            },
            AdminRoute(.get, "/admin/v1/license", read, "read the licence status") { api, _ in
                guard let status = api.dependencies.license() else {
                    throw AirlockError.storage("the licence has not been judged yet")
                }
                return try .json(status)
            },
            // Bodies are the files themselves, as carried on removable media.
            AdminRoute(.post, "/admin/v1/license/request", .permission(.manageLicense), "make an activation request",
                       maxBodyBytes: AdminAPI.maxLicenseFileBytes) { api, call in
                var reply = AdminReply(status: .ok, contentType: "application/json",
                                       body: ByteBuffer(data: try await api.licenseRequest(licenseFile: Data(buffer: call.body), by: call.principal.actor)))
                reply.attachment = "activation-request.json"
                return reply
            },
            AdminRoute(.post, "/admin/v1/license/activation", .permission(.manageLicense), "activate a licence",
                       maxBodyBytes: AdminAPI.maxLicenseFileBytes) { api, call in
                try .json(try await api.activateLicense(activationFile: Data(buffer: call.body), by: call.principal.actor))
            },
        ]
    }

    /// A node as stored (enrolled nodes) and as last seen live (connected ones, and the
    /// development `[[engines]]`, which have no row).
    public struct NodeView: Encodable, Sendable {
        public var id: String
        public var node: Node?
        public var live: LiveNodesSnapshot.Entry?
    }

    public func nodeViews() async throws -> [NodeView] {
        let rows = try await actions.listNodes()
        let live = dependencies.liveNodes()?.nodes ?? []
        var views = rows.map { NodeView(id: $0.id.rawValue, node: $0, live: nil) }
        for entry in live {
            if let index = views.firstIndex(where: { $0.id == entry.id }) { views[index].live = entry }
            else { views.append(NodeView(id: entry.id, node: nil, live: entry)) }
        }
        return views.sorted { $0.id < $1.id }
    }

    func live(_ id: String) -> LiveNodesSnapshot.Entry? {
        dependencies.liveNodes()?.nodes.first { $0.id == id }
    }
}
