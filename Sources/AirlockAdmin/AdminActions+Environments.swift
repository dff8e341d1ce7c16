import AirlockCore

extension AdminActions {
    /// - Parameter zone: where the environment's requests are placed first; nil: the appliance's
    ///   home zone. A new zone name is added to the zone list, as node enrolment does.
    public func createEnvironment(org orgReference: String, name: String, zone: String? = nil, by actor: AdminActor) async throws -> Environment {
        try AdminInput.validateName(name, kind: "env")
        if let zone {
            try AdminInput.validateName(zone, kind: "zone")
            try await requireLicensed(.multiZone, for: "pinning an environment to a zone")
        }
        let now = clock.now()
        return try await mutateTenancy { tx in
            let org = try tx.reader.requireOrg(orgReference)
            guard org.status != .revoked else { throw AirlockError.parentRevoked(kind: "org", id: org.id.rawValue) }
            if let existing = try tx.reader.environment(org: org.id, named: name) {
                throw AirlockError.duplicate(kind: "env", name: existing.name, scope: "org \(org.name)")
            }
            let env = Environment(id: .generate(), orgID: org.id, name: name, status: .active, createdAt: now, zone: zone)
            if let zone, try tx.reader.zone(named: zone) == nil { try tx.insert(Zone(name: zone, createdAt: now)) }
            try tx.insert(env)
            try tx.audit(auditEntry(actor, "env.create", type: "env", id: env.id.rawValue, before: Environment?.none, after: env))
            return env
        }
    }

    /// Environments of one org (by id or name), or of every org when `org` is nil.
    public func listEnvironments(org orgReference: String?) async throws -> [Environment] {
        try await store.read { reader in
            try reader.environments(org: try orgReference.map { try reader.requireOrg($0).id })
        }
    }

    /// An environment by id or `ORG/NAME`.
    public func environment(_ reference: String) async throws -> Environment {
        try await store.read { try $0.requireEnvironment(reference) }
    }

    public func suspendEnvironment(_ reference: String, by actor: AdminActor) async throws -> Environment {
        try await setEnvironmentStatus(reference, to: .suspended, action: "env.suspend", by: actor)
    }

    public func resumeEnvironment(_ reference: String, by actor: AdminActor) async throws -> Environment {
        try await setEnvironmentStatus(reference, to: .active, action: "env.resume", by: actor)
    }

    /// Permanent: the environment's keys stop resolving for good.
    public func revokeEnvironment(_ reference: String, by actor: AdminActor) async throws -> Environment {
        try await setEnvironmentStatus(reference, to: .revoked, action: "env.revoke", by: actor)
    }

    /// Pins the environment's requests to `zone` first (nil: back to the appliance's home zone).
    /// Takes effect in running daemons within a second; requests in flight keep their node.
    public func setEnvironmentZone(_ reference: String, zone: String?, by actor: AdminActor) async throws -> Environment {
        if let zone {
            try AdminInput.validateName(zone, kind: "zone")
            try await requireLicensed(.multiZone, for: "pinning an environment to a zone")
        }
        let now = clock.now()
        return try await mutateTenancy { tx in
            let before = try tx.reader.requireEnvironment(reference)
            guard before.status != .revoked else { throw AirlockError.parentRevoked(kind: "env", id: before.id.rawValue) }
            var after = before
            after.zone = zone
            if let zone, try tx.reader.zone(named: zone) == nil { try tx.insert(Zone(name: zone, createdAt: now)) }
            try tx.setZone(zone, env: before.id)
            try tx.audit(auditEntry(actor, "env.set_zone", type: "env", id: before.id.rawValue, before: before, after: after))
            return after
        }
    }

    private func setEnvironmentStatus(
        _ reference: String, to status: TenantStatus, action: String, by actor: AdminActor
    ) async throws -> Environment {
        try await mutateTenancy { tx in
            let before = try tx.reader.requireEnvironment(reference)
            try requireTransition("env", before.id.rawValue, from: before.status, to: status)
            var after = before
            after.status = status
            try tx.setStatus(status, env: before.id)
            try tx.audit(auditEntry(actor, action, type: "env", id: before.id.rawValue, before: before, after: after))
            return after
        }
    }
}
