import AirlockCore

extension AdminActions {
    public func createOrg(name: String, by actor: AdminActor) async throws -> Org {
        try AdminInput.validateName(name, kind: "org")
        let org = Org(id: .generate(), name: name, status: .active, createdAt: clock.now())
        let entry = auditEntry(actor, "org.create", type: "org", id: org.id.rawValue, before: Org?.none, after: org)
        let maxOrgs = try await entitlements(self)?.maxOrgs
        return try await mutateTenancy { tx in
            if let existing = try tx.reader.org(named: name) {
                throw AirlockError.duplicate(kind: "org", name: existing.name, scope: nil)
            }
            // Revoked orgs hold no place: they can serve nothing again.
            if let maxOrgs, try tx.reader.orgs().filter({ $0.status != .revoked }).count >= maxOrgs {
                throw AirlockError.invalidArgument("the licence allows \(maxOrgs) orgs, and that many exist; revoke one or activate a larger licence")
            }
            try tx.insert(org)
            try tx.audit(entry)
            return org
        }
    }

    public func listOrgs() async throws -> [Org] {
        try await store.read { try $0.orgs() }
    }

    public func org(_ reference: String) async throws -> Org {
        try await store.read { try $0.requireOrg(reference) }
    }

    public func suspendOrg(_ reference: String, by actor: AdminActor) async throws -> Org {
        try await setOrgStatus(reference, to: .suspended, action: "org.suspend", by: actor)
    }

    public func resumeOrg(_ reference: String, by actor: AdminActor) async throws -> Org {
        try await setOrgStatus(reference, to: .active, action: "org.resume", by: actor)
    }

    /// Permanent: the org's environments and keys stop resolving for good.
    public func revokeOrg(_ reference: String, by actor: AdminActor) async throws -> Org {
        try await setOrgStatus(reference, to: .revoked, action: "org.revoke", by: actor)
    }

    private func setOrgStatus(_ reference: String, to status: TenantStatus, action: String, by actor: AdminActor) async throws -> Org {
        try await mutateTenancy { tx in
            let before = try tx.reader.requireOrg(reference)
            try requireTransition("org", before.id.rawValue, from: before.status, to: status)
            var after = before
            after.status = status
            try tx.setStatus(status, org: before.id)
            try tx.audit(auditEntry(actor, action, type: "org", id: before.id.rawValue, before: before, after: after))
            return after
        }
    }
}

/// Refuses a status change the life cycle does not allow (e.g. resuming a revoked key).
func requireTransition(_ kind: String, _ id: String, from: TenantStatus, to: TenantStatus) throws {
    guard from.canTransition(to: to) else {
        throw AirlockError.invalidTransition(kind: kind, id: id, from: from, to: to)
    }
}
