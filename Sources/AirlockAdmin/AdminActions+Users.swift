import AirlockCore
import AirlockStore
import Foundation

/// Why a sign-in or an admin request was refused. The message a client sees is deliberately the
/// same for a wrong name, a wrong password, a locked and a disabled account; the audit row says
/// which it was.
public enum AccessError: Error, Equatable, Sendable, CustomStringConvertible {
    case signInRefused
    case unauthenticated(String)
    case forbidden(String)

    public var description: String {
        switch self {
        case .signInRefused: return "sign-in refused: wrong user name or password, or the account is locked or disabled"
        case let .unauthenticated(message): return message
        case let .forbidden(message): return message
        }
    }
}

/// Lockout: this many consecutive failures lock an account for `lockoutSeconds`.
public enum SignInPolicy {
    public static let maxFailures = 5
    public static let lockoutSeconds: Int64 = 15 * 60
}

extension AdminActions {
    /// Creates a local user. The first user of an appliance is made with the CLI on the box
    /// (`airlock user create --role admin`); later ones by an admin through the API or dashboard.
    public func createUser(name: String, role: AdminRole, org orgReference: String?, password: String,
                           by actor: AdminActor) async throws -> AdminUser {
        try AdminInput.validateName(name, kind: "user")
        let hash = try PasswordHash.make(password: password, cost: passwordCost)
        let now = clock.now()
        return try await store.write { tx in
            if let existing = try tx.reader.user(named: name) {
                throw AirlockError.duplicate(kind: "user", name: existing.name, scope: nil)
            }
            let orgID = try Self.userOrg(role: role, orgReference, tx.reader)
            let user = AdminUser(name: name, role: role, orgID: orgID, status: .active, createdAt: now, passwordChangedAt: now)
            try tx.insert(user, passwordHash: hash)
            try tx.audit(auditEntry(actor, "user.create", type: "user", id: user.name, before: AdminUser?.none, after: user))
            return user
        }
    }

    public func listUsers() async throws -> [AdminUser] {
        try await store.read { try $0.users() }
    }

    public func user(_ name: String) async throws -> AdminUser {
        try await store.read { try $0.requireUser(name) }
    }

    /// Changes a user's role (and, for an org-admin, its org). The last active admin keeps the role.
    public func setUserRole(_ name: String, role: AdminRole, org orgReference: String?, by actor: AdminActor) async throws -> AdminUser {
        try await store.write { tx in
            let before = try tx.reader.requireUser(name)
            var after = before
            after.role = role
            after.orgID = try Self.userOrg(role: role, orgReference, tx.reader)
            if before.role == .admin, role != .admin, before.status == .active, try tx.reader.activeAdminCount() <= 1 {
                throw AirlockError.invalidArgument("user '\(before.name)' is the last active admin; make another admin first")
            }
            try tx.update(after)
            try tx.audit(auditEntry(actor, "user.set_role", type: "user", id: before.name, before: before, after: after))
            return after
        }
    }

    /// Disables or re-enables sign-in. A disabled user's sessions end at their next request.
    public func setUserStatus(_ name: String, _ status: AdminUserStatus, by actor: AdminActor) async throws -> AdminUser {
        try await store.write { tx in
            let before = try tx.reader.requireUser(name)
            guard before.status != status else {
                throw AirlockError.invalidArgument("user '\(before.name)' is already \(status.rawValue)")
            }
            if before.role == .admin, status == .disabled, try tx.reader.activeAdminCount() <= 1 {
                throw AirlockError.invalidArgument("user '\(before.name)' is the last active admin; make another admin first")
            }
            var after = before
            after.status = status
            after.lockedUntil = nil
            try tx.update(after)
            try tx.setLoginState(user: before.name, failedLogins: 0, lockedUntil: nil)
            try tx.audit(auditEntry(actor, status == .active ? "user.enable" : "user.disable", type: "user", id: before.name,
                                    before: before, after: after))
            return after
        }
    }

    /// Sets a new password (which also lifts a lockout). Audited without the password or its hash.
    public func setUserPassword(_ name: String, password: String, by actor: AdminActor) async throws -> AdminUser {
        let hash = try PasswordHash.make(password: password, cost: passwordCost)
        let now = clock.now()
        return try await store.write { tx in
            let user = try tx.reader.requireUser(name)
            try tx.setPassword(user: user.name, hash: hash, at: now)
            var after = user
            after.passwordChangedAt = now
            after.lockedUntil = nil
            try tx.audit(auditEntry(actor, "user.set_password", type: "user", id: user.name, before: user, after: after))
            return after
        }
    }

    /// Checks a sign-in and records its outcome: success resets the failure count; each failure
    /// counts towards a lockout; every attempt — even for a name that is no user — is audited.
    ///
    /// The password is checked outside the transaction (scrypt is slow), but the verdict is taken
    /// inside it, on the user as it is then: sign-ins racing each other are serialised by SQLite,
    /// so none can read a count or a lock that another has already changed.
    public func signIn(name: String, password: String, from origin: String) async throws -> AdminUser {
        let now = clock.now()
        guard let credential = try await store.read({ try $0.userCredential(named: name) }) else {
            PasswordHash.burn(password)
            try await auditSignIn("user.login_failed", name: name.controlCharactersReplaced.clipped(to: 64), detail: "no such user", origin: origin)
            throw AccessError.signInRefused
        }
        let matches = PasswordHash.verify(password, against: credential.passwordHash)
        let upgrade = matches && (PasswordHash.cost(of: credential.passwordHash).map { $0.log2N < passwordCost.log2N } ?? false)
        let newHash = upgrade ? try? PasswordHash.make(password: password, cost: passwordCost) : nil
        let verdict = try await store.write { tx -> AdminUser? in
            let user = try tx.reader.requireUser(name)
            if let locked = user.lockedUntil, locked > now {
                try tx.audit(signInEntry("user.login_failed", name: user.name, detail: "locked", origin: origin))
                return nil
            }
            guard user.status == .active else {
                try tx.audit(signInEntry("user.login_failed", name: user.name, detail: "disabled", origin: origin))
                return nil
            }
            // A password changed since it was read: judge nothing on the old hash.
            guard let current = try tx.reader.userCredential(named: user.name), current.passwordHash == credential.passwordHash else {
                try tx.audit(signInEntry("user.login_failed", name: user.name, detail: "password changed meanwhile", origin: origin))
                return nil
            }
            guard matches else {
                try recordFailure(user, failures: current.failedLogins + 1, origin: origin, now: now, tx)
                return nil
            }
            try tx.setLoginState(user: user.name, failedLogins: 0, lockedUntil: nil)
            if let newHash { try tx.setPassword(user: user.name, hash: newHash, at: user.passwordChangedAt) }
            try tx.audit(signInEntry("user.login", name: user.name, detail: "signed in", origin: origin))
            var signedIn = user
            signedIn.lockedUntil = nil
            return signedIn
        }
        guard let verdict else { throw AccessError.signInRefused }
        return verdict
    }

    /// Records the end of a session (sign-out or idle timeout).
    public func auditSignOut(_ name: String, reason: String, origin: String) async throws {
        try await auditSignIn("user.logout", name: name, detail: reason, origin: origin)
    }

    /// Records a request refused for its role or org scope: an access attempt an auditor should see.
    public func auditAccessDenied(_ principal: AdminPrincipal, action: String, target: String) async throws {
        let entry = AuditEntry(
            timestamp: clock.now(), actor: principal.actor.name, action: "access.denied", targetType: "route",
            targetID: target.controlCharactersReplaced.clipped(to: 64), before: nil, after: Self.json(["attempted": action, "role": principal.role.rawValue]))
        _ = try await store.write { try $0.audit(entry) }
    }

    /// Counts a failure (inside the sign-in's write transaction); the fifth in a row locks.
    private func recordFailure(_ user: AdminUser, failures: Int, origin: String, now: UnixMillis, _ tx: TenancyWriter) throws {
        let locks = failures >= SignInPolicy.maxFailures
        let lockedUntil = locks ? UnixMillis(now.value + SignInPolicy.lockoutSeconds * 1000) : nil
        try tx.setLoginState(user: user.name, failedLogins: locks ? 0 : failures, lockedUntil: lockedUntil)
        try tx.audit(signInEntry("user.login_failed", name: user.name, detail: "wrong password (\(failures) in a row)", origin: origin))
        if locks {
            try tx.audit(signInEntry("user.locked", name: user.name, detail: "locked for \(SignInPolicy.lockoutSeconds / 60) minutes", origin: origin))
        }
    }

    private func auditSignIn(_ action: String, name: String, detail: String, origin: String) async throws {
        let entry = signInEntry(action, name: name, detail: detail, origin: origin)
        _ = try await store.write { try $0.audit(entry) }
    }

    private func signInEntry(_ action: String, name: String, detail: String, origin: String) -> AuditEntry {
        AuditEntry(timestamp: clock.now(), actor: "user:\(name)", action: action, targetType: "user", targetID: name,
                   before: nil, after: Self.json(["detail": detail, "origin": origin]))
    }

    private static func userOrg(role: AdminRole, _ reference: String?, _ reader: TenancyReader) throws -> OrgID? {
        switch (role, reference) {
        case (.orgAdmin, let reference?): return try reader.requireOrg(reference).id
        case (.orgAdmin, nil): throw AirlockError.invalidArgument("an org-admin needs --org: the one org they administer")
        case (_, nil): return nil
        case (_, .some): throw AirlockError.invalidArgument("only an org-admin belongs to an org; leave out --org for role \(role.rawValue)")
        }
    }
}

extension TenancyReader {
    func requireUser(_ name: String) throws -> AdminUser {
        guard let user = try user(named: name) else { throw AirlockError.notFound(kind: "user", reference: name) }
        return user
    }
}
