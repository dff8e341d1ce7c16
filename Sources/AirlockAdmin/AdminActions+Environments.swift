import AirlockCore

extension AdminActions {
    public func createEnvironment(org orgReference: String, name: String, by actor: AdminActor) async throws -> Environment {
        try AdminInput.validateName(name, kind: "env")
        let now = clock.now()
        return try await mutateTenancy { tx in
            let org = try tx.reader.requireOrg(orgReference)
            guard org.status != .revoked else { throw AirlockError.parentRevoked(kind: "org", id: org.id.rawValue) }
            if let existing = try tx.reader.environment(org: org.id, named: name) {
                throw AirlockError.duplicate(kind: "env", name: existing.name, scope: "org \(org.name)")
            }
            let env = Environment(id: .generate(), orgID: org.id, name: name, status: .active, createdAt: now)
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
