import AirlockCore
import AirlockStore

/// Every admin action the `airlock` CLI takes, whoever carries it out: `AdminActions` on the data
/// directory itself, or the running daemon through its admin API (the CLI's `DaemonAdmin`), which
/// then applies it with its own `AdminActions` — so the daemon's sessions, caches and licence see
/// the change at once, and it is audited the same way.
public protocol AdminService: Sendable {
    func createOrg(name: String, by actor: AdminActor) async throws -> Org
    func listOrgs() async throws -> [Org]
    func org(_ reference: String) async throws -> Org
    func suspendOrg(_ reference: String, by actor: AdminActor) async throws -> Org
    func resumeOrg(_ reference: String, by actor: AdminActor) async throws -> Org
    func revokeOrg(_ reference: String, by actor: AdminActor) async throws -> Org

    func createEnvironment(org orgReference: String, name: String, zone: String?, by actor: AdminActor) async throws -> Environment
    func listEnvironments(org orgReference: String?) async throws -> [Environment]
    func environment(_ reference: String) async throws -> Environment
    func suspendEnvironment(_ reference: String, by actor: AdminActor) async throws -> Environment
    func resumeEnvironment(_ reference: String, by actor: AdminActor) async throws -> Environment
    func revokeEnvironment(_ reference: String, by actor: AdminActor) async throws -> Environment
    func setEnvironmentZone(_ reference: String, zone: String?, by actor: AdminActor) async throws -> Environment

    func createKey(org orgReference: String, env envReference: String, name: String?, expiresAt: UnixMillis?,
                   allowedModels: [String]?, by actor: AdminActor) async throws -> IssuedKey
    func listKeys(org orgReference: String?, env envReference: String?) async throws -> [KeyDetails]
    func key(_ reference: String) async throws -> KeyDetails
    func suspendKey(_ reference: String, by actor: AdminActor) async throws -> APIKey
    func resumeKey(_ reference: String, by actor: AdminActor) async throws -> APIKey
    func revokeKey(_ reference: String, by actor: AdminActor) async throws -> APIKey
    func rotateKey(_ reference: String, graceSeconds: Int?, by actor: AdminActor) async throws -> IssuedKey
    func identifyKey(secret: String) async throws -> KeyDetails

    func setLimits(_ target: LimitTarget, _ changes: LimitChanges, by actor: AdminActor) async throws -> LimitOverride
    func limits(_ target: LimitTarget) async throws -> LimitOverride
    func setReservation(org orgReference: String, model: String, capacityUnits: Int?, by actor: AdminActor) async throws -> Reservation?
    func listReservations() async throws -> [Reservation]

    func addModel(name: String, by actor: AdminActor) async throws -> CatalogModel
    func removeModel(name: String, by actor: AdminActor) async throws -> CatalogModel
    func listModels() async throws -> [CatalogModel]

    func listNodes() async throws -> [Node]
    func node(_ reference: String) async throws -> Node
    func enrollNode(name: String, org orgReference: String?, zone: String?, validForSeconds: Int64, by actor: AdminActor) async throws -> IssuedEnrolment
    func revokeNode(_ reference: String, by actor: AdminActor) async throws -> Node
    func setNodeDraining(_ reference: String, _ draining: Bool, by actor: AdminActor) async throws -> Node
    func requestEngineReload(_ reference: String, by actor: AdminActor) async throws -> Node

    func createUser(name: String, role: AdminRole, org orgReference: String?, password: String, by actor: AdminActor) async throws -> AdminUser
    func listUsers() async throws -> [AdminUser]
    func setUserRole(_ name: String, role: AdminRole, org orgReference: String?, by actor: AdminActor) async throws -> AdminUser
    func setUserStatus(_ name: String, _ status: AdminUserStatus, by actor: AdminActor) async throws -> AdminUser
    func setUserPassword(_ name: String, password: String, by actor: AdminActor) async throws -> AdminUser

    func addPriceVersion(_ input: PriceTableInput, effectiveFrom: UnixMillis, by actor: AdminActor) async throws -> PriceVersionView
    func priceVersions() async throws -> [PriceVersionView]
    func setGuardrail(org orgReference: String, monthlySpend: Decimal6?, monthlyTokens: Int64?,
                      onExceed: OrgGuardrail.OnExceed, by actor: AdminActor) async throws -> OrgGuardrail?
    func budgets() async throws -> [OrgBudget]
}

extension AdminActions: AdminService {}
