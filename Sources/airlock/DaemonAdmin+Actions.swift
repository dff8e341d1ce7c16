import AirlockAdmin
import AirlockCore
import AirlockStore
import Foundation
import NIOHTTP1

/// Each admin action as its `/admin/v1` route. References are passed as the CLI got them (ids
/// or names); an environment named `ORG/NAME` or by name within an org is looked up first,
/// because a name with '/' cannot be a path segment.
extension DaemonAdmin {
    private func c(_ text: String) -> String { Self.component(text) }

    func createOrg(name: String, by actor: AdminActor) async throws -> Org {
        try await call(.POST, "/admin/v1/orgs", ["name": name])
    }
    func listOrgs() async throws -> [Org] { try await list("/admin/v1/orgs") }
    func org(_ reference: String) async throws -> Org { try await call(.GET, "/admin/v1/orgs/\(c(reference))") }
    func suspendOrg(_ reference: String, by actor: AdminActor) async throws -> Org { try await call(.POST, "/admin/v1/orgs/\(c(reference))/suspend") }
    func resumeOrg(_ reference: String, by actor: AdminActor) async throws -> Org { try await call(.POST, "/admin/v1/orgs/\(c(reference))/resume") }
    func revokeOrg(_ reference: String, by actor: AdminActor) async throws -> Org { try await call(.POST, "/admin/v1/orgs/\(c(reference))/revoke") }

    func createEnvironment(org orgReference: String, name: String, zone: String?, by actor: AdminActor) async throws -> Environment {
        try await call(.POST, "/admin/v1/orgs/\(c(orgReference))/envs", ["name": name, "zone": zone])
    }
    func listEnvironments(org orgReference: String?) async throws -> [Environment] {
        if let orgReference { return try await list("/admin/v1/orgs/\(c(orgReference))/envs") }
        var all: [Environment] = []
        for org in try await listOrgs() { all += try await list("/admin/v1/orgs/\(org.id.rawValue)/envs") as [Environment] }
        return all
    }
    func environment(_ reference: String) async throws -> Environment {
        try await call(.GET, "/admin/v1/envs/\(try await envID(reference, org: nil))")
    }
    func suspendEnvironment(_ reference: String, by actor: AdminActor) async throws -> Environment {
        try await call(.POST, "/admin/v1/envs/\(try await envID(reference, org: nil))/suspend")
    }
    func resumeEnvironment(_ reference: String, by actor: AdminActor) async throws -> Environment {
        try await call(.POST, "/admin/v1/envs/\(try await envID(reference, org: nil))/resume")
    }
    func revokeEnvironment(_ reference: String, by actor: AdminActor) async throws -> Environment {
        try await call(.POST, "/admin/v1/envs/\(try await envID(reference, org: nil))/revoke")
    }
    func setEnvironmentZone(_ reference: String, zone: String?, by actor: AdminActor) async throws -> Environment {
        try await call(.PATCH, "/admin/v1/envs/\(try await envID(reference, org: nil))", ["zone": zone])
    }

    func createKey(org orgReference: String, env envReference: String, name: String?, expiresAt: UnixMillis?,
                   allowedModels: [String]?, by actor: AdminActor) async throws -> IssuedKey {
        let env = try await envID(envReference, org: orgReference)
        return try await call(.POST, "/admin/v1/envs/\(env)/keys",
                              ["name": name, "models": allowedModels, "expires_at": expiresAt.map { Int($0.value) }])
    }
    func listKeys(org orgReference: String?, env envReference: String?) async throws -> [KeyDetails] {
        if let envReference { return try await list("/admin/v1/envs/\(try await envID(envReference, org: orgReference))/keys") }
        return try await list("/admin/v1/keys" + (orgReference.map { "?org=" + c($0) } ?? ""))
    }
    func key(_ reference: String) async throws -> KeyDetails { try await call(.GET, "/admin/v1/keys/\(c(reference))") }
    func suspendKey(_ reference: String, by actor: AdminActor) async throws -> APIKey { try await keyStatus(reference, "suspend") }
    func resumeKey(_ reference: String, by actor: AdminActor) async throws -> APIKey { try await keyStatus(reference, "resume") }
    func revokeKey(_ reference: String, by actor: AdminActor) async throws -> APIKey { try await keyStatus(reference, "revoke") }
    func rotateKey(_ reference: String, graceSeconds: Int?, by actor: AdminActor) async throws -> IssuedKey {
        try await call(.POST, "/admin/v1/keys/\(c(reference))/rotate", ["grace_seconds": graceSeconds])
    }
    func identifyKey(secret: String) async throws -> KeyDetails { try await call(.POST, "/admin/v1/keys/identify", ["secret": secret]) }

    func setLimits(_ target: LimitTarget, _ changes: LimitChanges, by actor: AdminActor) async throws -> LimitOverride {
        var body: [String: Any?] = [:]
        for field in LimitChanges.fields {
            switch changes[keyPath: field.change] {
            case .keep: continue
            case let .set(value): body[field.name] = value
            case .inherit: body[field.name] = .some(nil)
            }
        }
        return try await call(.PATCH, try await limitsPath(target), body)
    }
    func limits(_ target: LimitTarget) async throws -> LimitOverride { try await call(.GET, try await limitsPath(target)) }
    func setReservation(org orgReference: String, model: String, capacityUnits: Int?, by actor: AdminActor) async throws -> Reservation? {
        try await callAllowingEmpty(.PUT, "/admin/v1/orgs/\(c(orgReference))/reservations", ["model": model, "capacity_units": capacityUnits])
    }
    func listReservations() async throws -> [Reservation] { try await list("/admin/v1/reservations") }

    func addModel(name: String, by actor: AdminActor) async throws -> CatalogModel { try await call(.POST, "/admin/v1/models", ["name": name]) }
    func removeModel(name: String, by actor: AdminActor) async throws -> CatalogModel { try await call(.DELETE, "/admin/v1/models?name=\(c(name))") }
    func listModels() async throws -> [CatalogModel] { try await list("/admin/v1/models") }

    func listNodes() async throws -> [Node] {
        let views: [NodeRow] = try await list("/admin/v1/nodes")
        return views.compactMap(\.node).sorted { $0.name < $1.name }
    }
    func node(_ reference: String) async throws -> Node {
        let view: NodeRow = try await call(.GET, "/admin/v1/nodes/\(c(reference))")
        guard let node = view.node else { throw AirlockError.notFound(kind: "node", reference: reference) }
        return node
    }
    func enrollNode(name: String, org orgReference: String?, zone: String?, validForSeconds: Int64, by actor: AdminActor) async throws -> IssuedEnrolment {
        try await call(.POST, "/admin/v1/nodes", ["name": name, "org": orgReference, "zone": zone, "valid_for_seconds": Int(validForSeconds)])
    }
    func revokeNode(_ reference: String, by actor: AdminActor) async throws -> Node { try await call(.POST, "/admin/v1/nodes/\(c(reference))/revoke") }
    func setNodeDraining(_ reference: String, _ draining: Bool, by actor: AdminActor) async throws -> Node {
        try await call(.POST, "/admin/v1/nodes/\(c(reference))/\(draining ? "drain" : "resume")")
    }
    func requestEngineReload(_ reference: String, by actor: AdminActor) async throws -> Node {
        try await call(.POST, "/admin/v1/nodes/\(c(reference))/reload")
    }

    func createUser(name: String, role: AdminRole, org orgReference: String?, password: String, by actor: AdminActor) async throws -> AdminUser {
        try await call(.POST, "/admin/v1/users", ["name": name, "role": role.rawValue, "org": orgReference, "password": password])
    }
    func listUsers() async throws -> [AdminUser] { try await list("/admin/v1/users") }
    func setUserRole(_ name: String, role: AdminRole, org orgReference: String?, by actor: AdminActor) async throws -> AdminUser {
        try await call(.POST, "/admin/v1/users/\(c(name))/role", ["role": role.rawValue, "org": orgReference])
    }
    func setUserStatus(_ name: String, _ status: AdminUserStatus, by actor: AdminActor) async throws -> AdminUser {
        try await call(.POST, "/admin/v1/users/\(c(name))/\(status == .active ? "enable" : "disable")")
    }
    func setUserPassword(_ name: String, password: String, by actor: AdminActor) async throws -> AdminUser {
        try await call(.POST, "/admin/v1/users/\(c(name))/password", ["password": password])
    }

    // MARK: - Looking things up

    /// A node as the API lists it: the stored row (absent for development engines) beside what
    /// the registry sees, which `node list` reads from the snapshot file instead.
    private struct NodeRow: Decodable {
        var node: Node?
    }

    private func keyStatus(_ reference: String, _ verb: String) async throws -> APIKey {
        try await call(.POST, "/admin/v1/keys/\(c(reference))/\(verb)")
    }

    private func limitsPath(_ target: LimitTarget) async throws -> String {
        switch target {
        case let .org(reference): return "/admin/v1/orgs/\(c(reference))/limits"
        case let .env(reference): return "/admin/v1/envs/\(try await envID(reference, org: nil))/limits"
        case let .key(reference): return "/admin/v1/keys/\(c(reference))/limits"
        }
    }

    /// An environment's id from an id, `ORG/NAME`, or a name within `org` — the same forms
    /// `TenancyReader.requireEnvironment` takes.
    func envID(_ reference: String, org: String?) async throws -> String {
        if EnvID(rawValue: reference) != nil { return reference }
        let parts = reference.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let (owner, name): (String, String)
        switch (parts.count, org) {
        case (2, _): (owner, name) = (parts[0], parts[1])
        case (1, let org?): (owner, name) = (org, reference)
        default: throw AirlockError.invalidArgument("environment '\(reference)': give its id (env_…) or ORG/NAME")
        }
        let envs: [Environment] = try await list("/admin/v1/orgs/\(c(owner))/envs")
        guard let env = envs.first(where: { $0.name.lowercased() == name.lowercased() }) else {
            throw AirlockError.notFound(kind: "env", reference: "\(owner)/\(name)")
        }
        if let org, parts.count == 2 {
            let expected: Org = try await self.org(org)
            guard expected.id == env.orgID else { throw AirlockError.notFound(kind: "env", reference: reference) }
        }
        return env.id.rawValue
    }
}
