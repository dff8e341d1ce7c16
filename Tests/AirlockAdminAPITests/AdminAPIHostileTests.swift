import AirlockAdmin
import AirlockAdminAPI
import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import NIOCore
import Testing

/// The admin API against someone trying to get in, to reach further than their role, or to
/// confuse it with what they send.
@Suite struct SignInHostileTests {
    @Test func aWrongPasswordAndAnUnknownUserAreRefusedAlikeAndAudited() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let wrong = try await client.attemptSignIn("vera", password: "not the password at all")
            let unknown = try await client.attemptSignIn("nobody-here", password: "not the password at all")
            for response in [wrong, unknown] {
                #expect(response.status == .unauthorized)
                #expect(response.errorCode == "sign_in_refused")
                #expect(response.hasOpenAIErrorShape, "\(response.text)")
                #expect(AdminClient.sessionCookie(in: response) == nil)
                #expect(!response.text.contains("not the password"))
            }
            // The client cannot tell which names are users.
            #expect(wrong.text == unknown.text)
            let failures = try await f.audit("user.login_failed")
            #expect(failures.map(\.actor) == ["user:vera", "user:nobody-here"])
            #expect(failures[0].after?.contains("wrong password") == true)
            #expect(failures[1].after?.contains("no such user") == true)
            #expect(!failures.contains { $0.after?.contains("not the password") == true }, "an audit row holds the attempted password")
        }
    }

    @Test func fiveWrongPasswordsLockTheAccountForFifteenMinutes() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            for _ in 1...SignInPolicy.maxFailures {
                #expect(try await client.attemptSignIn("vera", password: "wrong password, again").status == .unauthorized)
            }
            let locked = try await f.audit("user.locked")
            #expect(locked.count == 1 && locked.first?.actor == "user:vera")
            #expect(try await f.actions.user("vera").lockedUntil != nil)

            // Even the right password is refused while locked, with the same answer as a wrong one.
            let right = AdminAPIFixture.password(for: "vera")
            let refused = try await client.attemptSignIn("vera", password: right)
            #expect(refused.status == .unauthorized && refused.errorCode == "sign_in_refused")
            f.clock.advance(seconds: 14 * 60)
            #expect(try await client.attemptSignIn("vera", password: right).status == .unauthorized)
            #expect(try await f.audit("user.login_failed").last?.after?.contains("locked") == true)

            f.clock.advance(seconds: 60 + 1)
            _ = try await client.signIn("vera")
            #expect(try await f.actions.user("vera").lockedUntil == nil)
            // Other accounts were never affected.
            _ = try await client.signIn("root")
        }
    }

    @Test func fourWrongPasswordsThenTheRightOneStartsTheCountAgain() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            for _ in 1..<SignInPolicy.maxFailures {
                _ = try await client.attemptSignIn("vera", password: "wrong password, again")
            }
            _ = try await client.signIn("vera")
            for _ in 1..<SignInPolicy.maxFailures {
                _ = try await client.attemptSignIn("vera", password: "wrong password, again")
            }
            #expect(try await f.audit("user.locked").isEmpty)
            _ = try await client.signIn("vera")
        }
    }

    /// Many wrong passwords at once must lock the account as surely as the same number one after
    /// another: the verdict is taken inside the write transaction, on the user as it is then, so
    /// no attempt can read a stale count or clear a lock another has just written.
    @Test func concurrentWrongPasswordsStillLockTheAccount() async throws {
        let f = try await AdminAPIFixture()
        let actions = f.actions
        let attempts = 3 * SignInPolicy.maxFailures + 2
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<attempts {
                group.addTask { _ = try? await actions.signIn(name: "vera", password: "wrong password, again", from: "test") }
            }
        }
        let rows = try await f.audit("user.login_failed")
        #expect(rows.count == attempts)
        let checked = rows.filter { $0.after?.contains("wrong password") == true }.count
        let locks = try await f.audit("user.locked").count
        let lockedUntil = try await f.actions.user("vera").lockedUntil
        let right: Result<AdminUser, Error>
        do { right = .success(try await actions.signIn(name: "vera", password: AdminAPIFixture.password(for: "vera"), from: "test")) }
        catch { right = .failure(error) }
        #expect(lockedUntil != nil, "\(attempts) wrong passwords in parallel left the account unlocked")
        #expect(locks == 1, "locked \(locks) times")
        #expect(checked <= SignInPolicy.maxFailures, "\(checked) guesses were counted; the policy allows \(SignInPolicy.maxFailures)")
        #expect(throws: AccessError.signInRefused) { try right.get() }
    }

    @Test func aDisabledUserCannotSignIn() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            #expect(try await client.send(.post, "/admin/v1/users/vera/disable", as: client.bearer).status == .ok)
            let refused = try await client.attemptSignIn("vera", password: AdminAPIFixture.password(for: "vera"))
            #expect(refused.status == .unauthorized && refused.errorCode == "sign_in_refused")
            #expect(try await f.audit("user.login_failed").last?.after?.contains("disabled") == true)
        }
    }

    @Test func aSignInNameFullOfControlCharactersIsClippedInTheAuditLog() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let hostile = "evil\n\r\u{1B}[31mname" + String(repeating: "x", count: 2_000)
            #expect(try await client.attemptSignIn(hostile, password: "whatever it is").status == .unauthorized)
            let row = try #require(try await f.audit("user.login_failed").last)
            #expect(row.targetID.unicodeScalars.count <= 64)
            #expect(!row.targetID.contains("\n") && !row.targetID.contains("\u{1B}"))
        }
    }

    @Test func theSessionCookieIsSecureHttpOnlyAndStrict() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let response = try await client.attemptSignIn("vera", password: AdminAPIFixture.password(for: "vera"))
            #expect(response.status == .created)
            let cookie = try #require(response.headers[values: .setCookie].first { $0.hasPrefix(AdminAPI.sessionCookie + "=") })
            let attributes = Set(cookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
            #expect(attributes.contains("secure") && attributes.contains("httponly") && attributes.contains("samesite=strict"), "\(cookie)")
            #expect(attributes.contains("path=/"), "\(cookie)")
            #expect(!response.text.contains(AdminAPIFixture.password(for: "vera")))
            #expect(response.object["idle_timeout_seconds"] as? Int == 900)
            #expect((response.object["user"] as? [String: Any])?["name"] as? String == "vera")
        }
    }

    @Test func signInTakesOnlyNameAndPassword() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let extra = try await client.send(.post, "/admin/v1/sessions",
                                              json: #"{"name":"vera","password":"pw-vera-long-enough","role":"admin"}"#, as: .anonymous)
            #expect(extra.status == .badRequest && extra.hasOpenAIErrorShape)
            let missing = try await client.send(.post, "/admin/v1/sessions", json: #"{"name":"vera"}"#, as: .anonymous)
            #expect(missing.status == .badRequest)
            #expect(try await f.audit("user.login").isEmpty)
        }
    }
}

@Suite struct SessionHostileTests {
    @Test func anIdleSessionExpiresAndIsAuditedAsSuch() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let session = try await client.signIn("vera")
            // Activity keeps a session alive past the idle limit…
            for _ in 0..<3 {
                f.clock.advance(seconds: 10 * 60)
                #expect(try await client.send(.get, "/admin/v1/me", as: session).status == .ok)
            }
            // …sixteen idle minutes end it.
            f.clock.advance(seconds: 16 * 60)
            let expired = try await client.send(.get, "/admin/v1/me", as: session)
            #expect(expired.status == .unauthorized && expired.errorCode == "unauthenticated")
            let logout = try #require(try await f.audit("user.logout").last)
            #expect(logout.actor == "user:vera" && logout.after?.contains("session expired") == true)
            // And it stays ended.
            #expect(try await client.send(.get, "/admin/v1/me", as: session).status == .unauthorized)
            #expect(f.sessions.count == 0)
        }
    }

    @Test func aSessionEndsAfterTwelveHoursHoweverBusy() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let session = try await client.signIn("vera")
            for _ in 0..<(12 * 6) {
                f.clock.advance(seconds: 10 * 60)
                #expect(try await client.send(.get, "/admin/v1/me", as: session).status == .ok)
            }
            f.clock.advance(seconds: 60)
            #expect(try await client.send(.get, "/admin/v1/me", as: session).status == .unauthorized)
        }
    }

    @Test func signingOutEndsTheSessionAndClearsTheCookie() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let session = try await client.signIn("vera")
            let other = try await client.signIn("vera")
            let out = try await client.send(.delete, "/admin/v1/sessions/current", as: session)
            #expect(out.status == .noContent)
            let cleared = try #require(out.headers[values: .setCookie].first)
            #expect(cleared.hasPrefix(AdminAPI.sessionCookie + "=;") && cleared.lowercased().contains("max-age=0"), "\(cleared)")
            #expect(try await client.send(.get, "/admin/v1/me", as: session).status == .unauthorized)
            // Only that session: the other one goes on.
            #expect(try await client.send(.get, "/admin/v1/me", as: other).status == .ok)
            #expect(try await f.audit("user.logout").last?.after?.contains("signed out") == true)
        }
    }

    @Test func aStateChangeWithoutTheRightCSRFTokenIsRefusedAndAudited() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let session = try await client.signIn("root")
            let other = try await client.signIn("root")
            let body = #"{"name":"csrf-victim"}"#
            let missing = try await client.send(.post, "/admin/v1/orgs", json: body, as: session.withCSRF(nil))
            #expect(missing.status == .forbidden && missing.errorCode == "forbidden" && missing.hasOpenAIErrorShape)
            let denial = try #require(try await f.audit("access.denied").last)
            #expect(denial.actor == "user:root" && denial.after?.contains("csrf_check") == true)

            #expect(try await client.send(.post, "/admin/v1/orgs", json: body, as: session.withCSRF("wrong")).status == .forbidden)
            #expect(try await client.send(.post, "/admin/v1/orgs", json: body, as: session.withCSRF("")).status == .forbidden)
            // Another session's token (even the same user's) is not this session's.
            guard case let .session(_, otherToken) = other else { Issue.record("not a session"); return }
            #expect(try await client.send(.post, "/admin/v1/orgs", json: body, as: session.withCSRF(otherToken)).status == .forbidden)
            #expect(try await f.audit("access.denied").count == 4)
            #expect(try await f.actions.listOrgs().count == 2)

            #expect(try await client.send(.post, "/admin/v1/orgs", json: body, as: session).status == .created)
        }
    }

    @Test func theBearerCredentialIsTheLocalAdminAndNothingElseIs() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            // The token file is the daemon owner's alone.
            let path = LocalAdminCredential.path(dataDirectory: f.dir.path)
            let fileMode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            let dirMode = try FileManager.default.attributesOfItem(atPath: f.dir.path + "/secrets")[.posixPermissions] as? Int
            #expect(fileMode == 0o600 && dirMode == 0o700, "token \(String(fileMode ?? 0, radix: 8)), secrets/ \(String(dirMode ?? 0, radix: 8))")
            #expect(f.bearerToken.hasPrefix("alk_admin_"))
            // Opening it again reads the same token rather than making a new one.
            let reopened = try LocalAdminCredential.openOrCreate(dataDirectory: f.dir.path)
            #expect(reopened.matches(f.bearerToken) && !reopened.matches(f.bearerToken + "x"))

            let me = try await client.send(.get, "/admin/v1/me", as: client.bearer)
            #expect(me.status == .ok && me.object["actor"] as? String == "local-admin" && me.object["role"] as? String == "admin")
            // No CSRF token needed: a bearer token is not sent by browsers on their own.
            let created = try await client.send(.post, "/admin/v1/orgs", json: #"{"name":"by-bearer"}"#, as: client.bearer)
            #expect(created.status == .created)
            #expect(try await f.audit("org.create").last?.actor == "local-admin")

            for wrong in [f.bearerToken + "x", String(f.bearerToken.dropLast()), "", "alk_admin_", f.bearerToken.uppercased()] {
                let response = try await client.send(.get, "/admin/v1/me", as: .bearer(wrong))
                #expect(response.status == .unauthorized && response.errorCode == "unauthenticated", "bearer '\(wrong)'")
            }
            // A wrong bearer token is not rescued by a good cookie beside it.
            guard case let .session(cookie, csrf) = try await client.signIn("root") else { return }
            var headers = HTTPFields()
            headers[.authorization] = "Bearer wrong"
            headers[.cookie] = "\(AdminAPI.sessionCookie)=\(cookie)"
            headers[HTTPField.Name("X-CSRF-Token")!] = csrf
            let mixed = try await client.client.execute(uri: "/admin/v1/me", method: .get, headers: headers, body: nil)
            #expect(mixed.status == .unauthorized)
        }
    }

    @Test func disablingAUserEndsTheirSession() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let vera = try await client.signIn("vera")
            let admin = try await client.signIn("root")
            #expect(try await client.send(.get, "/admin/v1/me", as: vera).status == .ok)
            #expect(try await client.send(.post, "/admin/v1/users/vera/disable", as: admin).status == .ok)
            #expect(try await client.send(.get, "/admin/v1/me", as: vera).status == .unauthorized)
            // Enabling again does not bring the old session back.
            #expect(try await client.send(.post, "/admin/v1/users/vera/enable", as: admin).status == .ok)
            #expect(try await client.send(.get, "/admin/v1/me", as: vera).status == .unauthorized)
            _ = try await client.signIn("vera")
        }
    }

    @Test func aUserDisabledBehindTheAPIsBackIsRefusedAtTheNextRequest() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let vera = try await client.signIn("vera")
            // As the CLI would: straight through AdminActions, so no session is closed.
            _ = try await f.actions.setUserStatus("vera", .disabled, by: AdminAPIFixture.setupActor)
            #expect(try await client.send(.get, "/admin/v1/me", as: vera).status == .unauthorized)
        }
    }

    /// `airlock user set-password` (AdminActions straight, as the CLI does) is how an operator answers
    /// a leaked password. The sessions opened with the old password end with it, as they do when the
    /// password is set through the API: `authenticate` compares a session's start with the user's
    /// `passwordChangedAt`.
    @Test func aPasswordSetBehindTheAPIsBackEndsTheirSessions() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let vera = try await client.signIn("vera")
            f.clock.advance(seconds: 1)
            _ = try await f.actions.setUserPassword("vera", password: "a brand new password", by: AdminAPIFixture.setupActor)
            let response = try await client.send(.get, "/admin/v1/me", as: vera)
            #expect(response.status == .unauthorized, "the old session still answers \(response.code)")
        }
    }

    @Test func changingARoleEndsTheirSessionsAndTheNewRoleApplies() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let ops = try await client.signIn("ops")
            #expect(try await client.send(.post, "/admin/v1/models", json: #"{"name":"m1"}"#, as: ops).status == .created)
            let changed = try await client.send(.post, "/admin/v1/users/ops/role", json: #"{"role":"viewer"}"#, as: client.bearer)
            #expect(changed.status == .ok && changed.object["role"] as? String == "viewer")
            #expect(try await client.send(.get, "/admin/v1/me", as: ops).status == .unauthorized)
            let again = try await client.signIn("ops")
            #expect(try await client.send(.post, "/admin/v1/models", json: #"{"name":"m2"}"#, as: again).status == .forbidden)
        }
    }

    @Test func aRoleChangedBehindTheAPIsBackAppliesAtTheNextRequest() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let ops = try await client.signIn("ops")
            _ = try await f.actions.setUserRole("ops", role: .viewer, org: nil, by: AdminAPIFixture.setupActor)
            let response = try await client.send(.post, "/admin/v1/models", json: #"{"name":"m1"}"#, as: ops)
            #expect(response.status == .forbidden)
        }
    }

    @Test func settingAPasswordEndsTheirSessions() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let vera = try await client.signIn("vera")
            let set = try await client.send(.post, "/admin/v1/users/vera/password", json: #"{"password":"a brand new password"}"#,
                                            as: client.bearer)
            #expect(set.status == .ok)
            #expect(try await client.send(.get, "/admin/v1/me", as: vera).status == .unauthorized)
            #expect(try await client.attemptSignIn("vera", password: AdminAPIFixture.password(for: "vera")).status == .unauthorized)
            _ = try await client.signIn("vera", password: "a brand new password")
        }
    }

    @Test func changingYourOwnPasswordNeedsTheCurrentOneAndEndsYourSessions() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let vera = try await client.signIn("vera")
            let elsewhere = try await client.signIn("vera")
            let wrong = try await client.send(.post, "/admin/v1/me/password",
                                              json: #"{"current_password":"a wrong guess here","new_password":"a brand new password"}"#, as: vera)
            #expect(wrong.status == .unauthorized && wrong.errorCode == "sign_in_refused")
            #expect(try await f.audit("user.login_failed").last?.actor == "user:vera")
            let right = try await client.send(.post, "/admin/v1/me/password",
                                              json: AdminClient.json(["current_password": AdminAPIFixture.password(for: "vera"),
                                                                      "new_password": "a brand new password"]), as: vera)
            #expect(right.status == .ok, "\(right.text)")
            #expect(try await client.send(.get, "/admin/v1/me", as: vera).status == .unauthorized)
            #expect(try await client.send(.get, "/admin/v1/me", as: elsewhere).status == .unauthorized)
            _ = try await client.signIn("vera", password: "a brand new password")
        }
    }
}

@Suite struct ScopeHostileTests {
    @Test func anOrgAdminCannotEvenLearnThatAnotherOrgExists() async throws {
        let f = try await AdminAPIFixture()
        let seed = f.seed
        try await f.withClient { client in
            let boss = try await client.signIn(as: .orgAdmin)
            let attempts: [(HTTPRequest.Method, String, String?)] = [
                (.get, "/admin/v1/orgs/\(seed.globex.id.rawValue)", nil),
                (.get, "/admin/v1/orgs/globex", nil),
                (.get, "/admin/v1/orgs/\(seed.globex.id.rawValue)/envs", nil),
                (.get, "/admin/v1/orgs/\(seed.globex.id.rawValue)/limits", nil),
                (.post, "/admin/v1/orgs/\(seed.globex.id.rawValue)/envs", #"{"name":"sneaky"}"#),
                (.get, "/admin/v1/envs/\(seed.globexEnv.id.rawValue)", nil),
                (.get, "/admin/v1/envs/\(seed.globexEnv.id.rawValue)/keys", nil),
                (.post, "/admin/v1/envs/\(seed.globexEnv.id.rawValue)/keys", #"{"name":"sneaky"}"#),
                (.post, "/admin/v1/envs/\(seed.globexEnv.id.rawValue)/suspend", nil),
                (.patch, "/admin/v1/envs/\(seed.globexEnv.id.rawValue)/limits", #"{"concurrency":1}"#),
                (.get, "/admin/v1/keys/\(seed.globexKey)", nil),
                (.post, "/admin/v1/keys/\(seed.globexKey)/revoke", nil),
                (.post, "/admin/v1/keys/\(seed.globexKey)/rotate", nil),
                (.patch, "/admin/v1/keys/\(seed.globexKey)/limits", #"{"concurrency":1}"#),
            ]
            let ghost = try await client.send(.get, "/admin/v1/orgs/org_0000000000000000", as: boss)
            #expect(ghost.status == .notFound)
            for (method, path, body) in attempts {
                let before = try await f.auditTrail().count
                let response = try await client.send(method, path, json: body, as: boss)
                #expect(response.status == .notFound, "\(method.rawValue) \(path) → \(response.code) \(response.text)")
                #expect(response.errorCode == "not_found" && response.hasOpenAIErrorShape, "\(response.text)")
                #expect(!response.text.contains("globex") || path.contains("globex"), "the answer names the other org: \(response.text)")
                let after = try await f.auditTrail()
                #expect(after.count == before + 1 && after.last?.action == "access.denied", "\(method.rawValue) \(path)")
                #expect(after.last?.actor == "user:acme-admin")
            }
            // Nothing of globex's changed.
            #expect(try await f.actions.listEnvironments(org: "globex").count == 1)
            #expect(try await f.actions.key(seed.globexKey).key.status == .active)
            #expect(try await f.actions.listKeys(org: "globex", env: nil).count == 1)
        }
    }

    @Test func anOrgAdminListsOnlyTheirOwnOrgAndReservations() async throws {
        let f = try await AdminAPIFixture()
        _ = try await f.actions.setReservation(org: "acme", model: AdminAPIFixture.model, capacityUnits: 5, by: AdminAPIFixture.setupActor)
        _ = try await f.actions.setReservation(org: "globex", model: AdminAPIFixture.model, capacityUnits: 7, by: AdminAPIFixture.setupActor)
        let acmeID = f.seed.acme.id.rawValue
        try await f.withClient { client in
            let boss = try await client.signIn(as: .orgAdmin)
            let orgs = try await client.send(.get, "/admin/v1/orgs", as: boss)
            #expect(orgs.status == .ok)
            #expect(orgs.list.map { $0["name"] as? String } == ["acme"])
            #expect(!orgs.text.contains("globex"))
            let reservations = try await client.send(.get, "/admin/v1/reservations", as: boss)
            #expect(reservations.list.count == 1 && reservations.text.contains(acmeID))
            let me = try await client.send(.get, "/admin/v1/me", as: boss)
            #expect(me.object["org_id"] as? String == acmeID && me.object["role"] as? String == "org-admin")
            // An admin sees both.
            #expect(try await client.send(.get, "/admin/v1/orgs", as: client.bearer).list.count == 2)
            #expect(try await client.send(.get, "/admin/v1/reservations", as: client.bearer).list.count == 2)
        }
    }

    @Test func anOrgAdminsUsageIsAlwaysTheirOwnOrgs() async throws {
        let f = try await AdminAPIFixture()
        let seed = f.seed
        let appender = LedgerAppender(store: f.store, maxBatch: 8)
        let at = UnixMillis(f.clock.now.value - 3_600_000)
        for (index, (org, env, key)) in [(seed.acme.id, seed.acmeEnv.id, seed.acmeKey), (seed.globex.id, seed.globexEnv.id, seed.globexKey)]
            .enumerated() {
            _ = try await appender.append(UsageRecord(
                usageID: UsageID.generate(at: at), requestID: "req_\(index)", timestamp: at, orgID: org, envID: env,
                keyID: KeyID(rawValue: key)!, zone: "default", model: AdminAPIFixture.model, node: "gpu-01", promptTokens: 10,
                completionTokens: 20, latencyMillis: 100, costMicros: 1, streamed: false, finishReason: "stop", tokenSource: .engine))
        }
        try await f.withClient { client in
            let boss = try await client.signIn(as: .orgAdmin)
            for query in ["", "?org=\(seed.globex.id.rawValue)", "?group_by=env", "?group_by=model&org=\(seed.globex.id.rawValue)"] {
                let usage = try await client.send(.get, "/admin/v1/usage" + query, as: boss)
                #expect(usage.status == .ok, "\(query): \(usage.text)")
                let points = usage.object["points"] as? [[String: Any]] ?? []
                #expect(points.map { $0["requests"] as? Int } == [1], "\(query): \(usage.text)")
                #expect(!usage.text.contains(seed.globex.id.rawValue) && !usage.text.contains("globex"), "\(query): \(usage.text)")
            }
            let csv = try await client.send(.get, "/admin/v1/usage?format=csv", as: boss)
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true && !csv.text.contains("globex"))
            let all = try await client.send(.get, "/admin/v1/usage", as: client.bearer)
            #expect((all.object["points"] as? [Any])?.count == 2, "\(all.text)")
        }
    }

    @Test func aViewerCannotCreateAnOrgAndTheAttemptIsAudited() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let viewer = try await client.signIn(as: .viewer)
            let response = try await client.send(.post, "/admin/v1/orgs", json: #"{"name":"viewer-org"}"#, as: viewer)
            #expect(response.status == .forbidden && response.errorCode == "forbidden" && response.hasOpenAIErrorShape)
            #expect(response.errorMessage?.contains("viewer") == true)
            let denial = try #require(try await f.audit("access.denied").last)
            #expect(denial.actor == "user:vera" && denial.targetID == "/admin/v1/orgs")
            #expect(denial.after?.contains("create an org") == true && denial.after?.contains("viewer") == true)
            #expect(try await f.actions.listOrgs().count == 2)
        }
    }

    @Test func anOrgAdminCannotMakeUsersOrPromoteThemselves() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let boss = try await client.signIn(as: .orgAdmin)
            let create = try await client.send(.post, "/admin/v1/users",
                                               json: #"{"name":"mallory","role":"admin","password":"a long enough password"}"#, as: boss)
            #expect(create.status == .forbidden)
            let promote = try await client.send(.post, "/admin/v1/users/acme-admin/role", json: #"{"role":"admin"}"#, as: boss)
            #expect(promote.status == .forbidden)
            #expect(try await f.actions.user("acme-admin").role == .orgAdmin)
            #expect(try await f.actions.listUsers().count == 6)
        }
    }
}

@Suite struct BodyHostileTests {
    /// What a client may send wrong, and the answer: 400 in OpenAI's error shape, nothing written.
    static let malformedBodies: [(path: String, body: String)] = [
        ("/admin/v1/orgs", "{"),
        ("/admin/v1/orgs", "{\"name\":\"x\""),
        ("/admin/v1/orgs", "not json"),
        ("/admin/v1/orgs", "[1,2]"),
        ("/admin/v1/orgs", "\"acme2\""),
        ("/admin/v1/orgs", "null"),
        ("/admin/v1/orgs", "42"),
        ("/admin/v1/orgs", "{}"),
        ("/admin/v1/orgs", "{\"name\":5}"),
        ("/admin/v1/orgs", "{\"name\":null}"),
        ("/admin/v1/orgs", "{\"name\":[\"acme2\"]}"),
        ("/admin/v1/orgs", "{\"name\":{\"x\":1}}"),
        ("/admin/v1/orgs", "{\"name\":true}"),
        ("/admin/v1/orgs", "{\"name\":\"acme2\",\"extra\":1}"),
        ("/admin/v1/orgs", "{\"Name\":\"acme2\"}"),
        ("/admin/v1/orgs", "{\"name\":\"<script>alert(1)</script>\"}"),
        ("/admin/v1/orgs", "{\"name\":\"acme2\\u0000\"}"),
        ("/admin/v1/orgs", "{\"name\":\"a b\"}"),
        ("/admin/v1/orgs", "{\"name\":\"org_0123456789abcdef\"}"),
        ("/admin/v1/models", "{\"name\":\"\"}"),
        ("ENV/keys", "{\"models\":\"x\"}"),
        ("ENV/keys", "{\"models\":[1]}"),
        ("ENV/keys", "{\"models\":[]}"),
        ("ENV/keys", "{\"expires\":\"yesterday-ish\"}"),
        ("ENV/keys", "{\"name\":\"k\",\"allowed_models\":[\"x\"]}"),
        ("KEY/rotate", "{\"grace_seconds\":\"30\"}"),
        ("KEY/rotate", "{\"grace_seconds\":1.5}"),
        ("KEY/rotate", "{\"grace_seconds\":1e300}"),
        ("/admin/v1/nodes", "{\"name\":\"gpu-9\",\"valid_for_seconds\":1}"),
        ("/admin/v1/users", "{\"name\":\"eve\",\"role\":\"superuser\",\"password\":\"a long enough password\"}"),
        ("/admin/v1/users", "{\"name\":\"eve\",\"role\":\"viewer\",\"password\":12345678901234}"),
    ]

    @Test func malformedBodiesAre400InOpenAIsShape() async throws {
        let f = try await AdminAPIFixture()
        let seed = f.seed
        try await f.withClient { client in
            let before = try await f.auditTrail().count
            for (path, body) in Self.malformedBodies {
                let resolved = path.replacingOccurrences(of: "ENV/", with: "/admin/v1/envs/\(seed.acmeEnv.id.rawValue)/")
                    .replacingOccurrences(of: "KEY/", with: "/admin/v1/keys/\(seed.acmeKey)/")
                let response = try await client.send(.post, resolved, json: body, as: client.bearer)
                let what = "\(resolved) \(body)"
                #expect(response.status == .badRequest, "\(what) → \(response.code) \(response.text)")
                #expect(response.hasOpenAIErrorShape, "\(what) → \(response.text)")
                #expect(response.errorCode == "invalid_request" && response.error?["type"] as? String == "invalid_request_error",
                        "\(what) → \(response.text)")
                #expect(response.error?["param"] is NSNull, "\(what)")
                #expect(response.headers[.contentType] == "application/json", "\(what)")
            }
            #expect(try await f.auditTrail().count == before, "a refused body changed something")
        }
    }

    @Test func patchAndPutBodiesAreJustAsStrict() async throws {
        let f = try await AdminAPIFixture()
        let env = f.seed.acmeEnv.id.rawValue
        try await f.withClient { client in
            for body in [#"{"concurrency":"1"}"#, #"{"concurrency":1.5}"#, #"{"concurrency":0}"#, #"{"concurrency":-1}"#,
                         #"{"concurrency":true}"#, #"{"rpm":1}"#, "[]"] {
                let response = try await client.send(.patch, "/admin/v1/envs/\(env)/limits", json: body, as: client.bearer)
                #expect(response.status == .badRequest && response.hasOpenAIErrorShape, "\(body) → \(response.code) \(response.text)")
            }
            for body in [#"{"capacity_units":5}"#, #"{"model":"m","capacity_units":"5"}"#, #"{"model":"m","capacity_units":0}"#] {
                let response = try await client.send(.put, "/admin/v1/orgs/acme/reservations", json: body, as: client.bearer)
                #expect(response.status == .badRequest && response.hasOpenAIErrorShape, "\(body) → \(response.code) \(response.text)")
            }
        }
    }

    /// `1` and `0` are numbers, not booleans: a JSON decoder that reads them as `true`/`false`
    /// would turn a valid limit into a type error.
    @Test func smallWholeNumbersAreNumbers() async throws {
        let f = try await AdminAPIFixture()
        let env = f.seed.acmeEnv.id.rawValue
        try await f.withClient { client in
            let one = try await client.send(.patch, "/admin/v1/envs/\(env)/limits", json: #"{"concurrency":1,"requests_per_minute":1.0}"#,
                                            as: client.bearer)
            #expect(one.status == .ok, "\(one.text)")
            #expect((one.object["limits"] as? [String: Any])?["concurrency"] as? Int == 1, "\(one.text)")
            let rotate = try await client.send(.post, "/admin/v1/keys/\(f.seed.acmeKey)/rotate", json: #"{"grace_seconds":1}"#,
                                               as: client.bearer)
            #expect(rotate.status == .ok, "\(rotate.text)")
            let inherit = try await client.send(.patch, "/admin/v1/envs/\(env)/limits", json: #"{"concurrency":null}"#, as: client.bearer)
            #expect(inherit.status == .ok && (inherit.object["limits"] as? [String: Any])?["concurrency"] == nil, "\(inherit.text)")
        }
    }

    @Test func aBodyOver64KiBIs413() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let padding = String(repeating: "a", count: 64 * 1024)
            let response = try await client.send(.post, "/admin/v1/orgs", json: "{\"name\":\"\(padding)\"}", as: client.bearer)
            #expect(response.status == .contentTooLarge, "\(response.code) \(response.text.prefix(200))")
            #expect(response.errorCode == "body_too_large" && response.hasOpenAIErrorShape)
            // Just under the limit is read (and refused for what it says, not its size).
            let under = String(repeating: "a", count: 64 * 1024 - 20)
            let small = try await client.send(.post, "/admin/v1/orgs", json: "{\"name\":\"\(under)\"}", as: client.bearer)
            #expect(small.status == .badRequest, "\(small.code)")
            // The error repeats at most a little of what was sent.
            #expect(small.text.count < 1_000, "\(small.text.count) bytes of error")
        }
    }

    @Test func markupInANameIsRefusedNotStored() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            for name in ["<script>alert(1)</script>", "acme\"><img src=x onerror=alert(1)>", "javascript:alert(1)", "=HYPERLINK(\"x\")"] {
                let org = try await client.send(.post, "/admin/v1/orgs", json: AdminClient.json(["name": name]), as: client.bearer)
                #expect(org.status == .badRequest && org.errorCode == "invalid_request", "\(name) → \(org.code) \(org.text)")
                #expect(org.headers[.contentType] == "application/json")
                let user = try await client.send(.post, "/admin/v1/users",
                                                 json: AdminClient.json(["name": name, "role": "viewer", "password": "a long enough password"]),
                                                 as: client.bearer)
                #expect(user.status == .badRequest, "\(name) → \(user.code) \(user.text)")
            }
            #expect(try await f.actions.listOrgs().count == 2)
            #expect(try await f.actions.listUsers().count == 6)
        }
    }

    @Test func listPagingRefusesNonsense() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            for query in ["?limit=0", "?limit=1001", "?limit=x", "?limit=-1", "?after=org_0000000000000000"] {
                let response = try await client.send(.get, "/admin/v1/orgs" + query, as: client.bearer)
                #expect(response.status == .badRequest && response.hasOpenAIErrorShape, "\(query) → \(response.code)")
            }
            let first = try await client.send(.get, "/admin/v1/orgs?limit=1", as: client.bearer)
            #expect(first.list.count == 1 && first.object["has_more"] as? Bool == true)
            let last = try #require(first.object["last_id"] as? String)
            let second = try await client.send(.get, "/admin/v1/orgs?limit=1&after=\(last)", as: client.bearer)
            #expect(second.list.count == 1 && second.object["has_more"] as? Bool == false)
            for query in ["?before=0", "?before=x", "?limit=0"] {
                #expect(try await client.send(.get, "/admin/v1/audit" + query, as: client.bearer).status == .badRequest, "\(query)")
            }
            for query in ["?bucket=week", "?group_by=key", "?from=yesterday", "?org=acme", "?from=2020-01-01&bucket=minute"] {
                #expect(try await client.send(.get, "/admin/v1/usage" + query, as: client.bearer).status == .badRequest, "\(query)")
            }
        }
    }
}

@Suite struct UserAdminHostileTests {
    @Test func theLastActiveAdminCannotBeDisabledOrDemoted() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let root = try await client.signIn("root")
            for auth in [client.bearer, root] {
                let disable = try await client.send(.post, "/admin/v1/users/root/disable", as: auth)
                #expect(disable.status == .badRequest && disable.errorMessage?.contains("last active admin") == true, "\(disable.text)")
                for role in ["viewer", "operator"] {
                    let demote = try await client.send(.post, "/admin/v1/users/root/role", json: AdminClient.json(["role": role]), as: auth)
                    #expect(demote.status == .badRequest, "\(demote.text)")
                }
                let toOrgAdmin = try await client.send(.post, "/admin/v1/users/ROOT/role", json: #"{"role":"org-admin","org":"acme"}"#, as: auth)
                #expect(toOrgAdmin.status == .badRequest, "\(toOrgAdmin.text)")
            }
            #expect(try await f.actions.user("root").role == .admin)
            #expect(try await f.actions.user("root").status == .active)
            // With a second admin, the first may go.
            let second = try await client.send(.post, "/admin/v1/users",
                                               json: #"{"name":"root2","role":"admin","password":"a long enough password"}"#, as: root)
            #expect(second.status == .created)
            #expect(try await client.send(.post, "/admin/v1/users/root/role", json: #"{"role":"viewer"}"#, as: root).status == .ok)
            // …which ended root's own session.
            #expect(try await client.send(.get, "/admin/v1/me", as: root).status == .unauthorized)
            // And now root2 is the last one.
            #expect(try await client.send(.post, "/admin/v1/users/root2/disable", as: client.bearer).status == .badRequest)
        }
    }

    @Test func shortPasswordsAreRefusedEverywhere() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let eleven = "elevenchars"
            #expect(eleven.count == 11)
            let create = try await client.send(.post, "/admin/v1/users",
                                               json: AdminClient.json(["name": "eve", "role": "viewer", "password": eleven]), as: client.bearer)
            #expect(create.status == .badRequest && create.errorMessage?.contains("12") == true, "\(create.text)")
            let set = try await client.send(.post, "/admin/v1/users/vera/password", json: AdminClient.json(["password": eleven]), as: client.bearer)
            #expect(set.status == .badRequest, "\(set.text)")
            let vera = try await client.signIn("vera")
            let own = try await client.send(.post, "/admin/v1/me/password",
                                            json: AdminClient.json(["current_password": AdminAPIFixture.password(for: "vera"), "new_password": eleven]),
                                            as: vera)
            #expect(own.status == .badRequest, "\(own.text)")
            // Nothing changed: vera's old password and session still work.
            #expect(try await client.send(.get, "/admin/v1/me", as: vera).status == .ok)
            _ = try await client.signIn("vera")
            // Exactly twelve is enough.
            let twelve = try await client.send(.post, "/admin/v1/users",
                                               json: AdminClient.json(["name": "eve", "role": "viewer", "password": "twelve chars"]), as: client.bearer)
            #expect(twelve.status == .created, "\(twelve.text)")
            // Too long is refused too, rather than hashed at any length.
            let huge = try await client.send(.post, "/admin/v1/users",
                                             json: AdminClient.json(["name": "eve2", "role": "viewer", "password": String(repeating: "p", count: 1_025)]),
                                             as: client.bearer)
            #expect(huge.status == .badRequest, "\(huge.text)")
        }
    }

    @Test func userNamesAreUniqueIgnoringCase() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            let response = try await client.send(.post, "/admin/v1/users",
                                                 json: #"{"name":"VERA","role":"viewer","password":"a long enough password"}"#, as: client.bearer)
            #expect(response.status == .conflict && response.errorCode == "conflict", "\(response.text)")
        }
    }

    @Test func orgMembershipFollowsTheRole() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            for body in [#"{"name":"eve","role":"org-admin","password":"a long enough password"}"#,
                         #"{"name":"eve","role":"viewer","org":"acme","password":"a long enough password"}"#,
                         #"{"name":"eve","role":"org-admin","org":"nowhere","password":"a long enough password"}"#] {
                let response = try await client.send(.post, "/admin/v1/users", json: body, as: client.bearer)
                #expect([400, 404].contains(response.code), "\(body) → \(response.code) \(response.text)")
            }
            let ok = try await client.send(.post, "/admin/v1/users",
                                           json: #"{"name":"eve","role":"org-admin","org":"globex","password":"a long enough password"}"#,
                                           as: client.bearer)
            #expect(ok.status == .created && (ok.object["org_id"] as? String) == f.seed.globex.id.rawValue, "\(ok.text)")
        }
    }

    /// The stored hash (`scrypt$…`) is in no answer and no audit row, whatever was done to users.
    @Test func thePasswordHashNeverLeaves() async throws {
        let f = try await AdminAPIFixture()
        try await f.withClient { client in
            var answers: [APIResponse] = []
            let root = try await client.signIn("root")
            answers.append(try await client.send(.post, "/admin/v1/users",
                                                 json: #"{"name":"eve","role":"viewer","password":"a long enough password"}"#, as: root))
            answers.append(try await client.send(.post, "/admin/v1/users/eve/password", json: #"{"password":"another long password"}"#, as: root))
            answers.append(try await client.send(.post, "/admin/v1/users/eve/role", json: #"{"role":"org-admin","org":"acme"}"#, as: root))
            answers.append(try await client.send(.post, "/admin/v1/users/eve/disable", as: root))
            answers.append(try await client.send(.post, "/admin/v1/users/eve/enable", as: root))
            answers.append(try await client.attemptSignIn("eve", password: "another long password"))
            answers.append(try await client.attemptSignIn("eve", password: "wrong password entirely"))
            let vera = try await client.signIn("vera")
            answers.append(try await client.send(.post, "/admin/v1/me/password",
                                                 json: AdminClient.json(["current_password": AdminAPIFixture.password(for: "vera"),
                                                                         "new_password": "vera's new password"]), as: vera))
            answers.append(try await client.send(.get, "/admin/v1/users", as: root))
            answers.append(try await client.send(.get, "/admin/v1/users/eve", as: root))
            answers.append(try await client.send(.get, "/admin/v1/me", as: root))
            // Every audit row, paged through.
            var before: Int? = nil
            repeat {
                let page = try await client.send(.get, "/admin/v1/audit?limit=20" + (before.map { "&before=\($0)" } ?? ""), as: root)
                #expect(page.status == .ok)
                answers.append(page)
                before = page.object["next_before"] as? Int
            } while before != nil

            let hashes = try await [f.passwordHash(of: "eve"), f.passwordHash(of: "vera"), f.passwordHash(of: "root")].compactMap { $0 }
            #expect(hashes.count == 3 && hashes.allSatisfy { $0.hasPrefix("scrypt$") })
            let digests = hashes.compactMap { $0.split(separator: "$").last.map(String.init) }
            for answer in answers {
                #expect(!answer.text.contains("scrypt"), "a hash in: \(answer.text.prefix(300))")
                for digest in digests { #expect(!answer.text.contains(digest)) }
                #expect(!answer.text.contains("password_hash"))
                #expect(!answer.text.contains("another long password") && !answer.text.contains("a long enough password"))
            }
            #expect(answers.filter { $0.text.contains("\"action\":\"user.") }.count >= 1, "the audit pages hold no user rows")
            // Nor in the audit table itself.
            let raw = try Tampering.count(databasePath: f.store.path,
                                          "SELECT count(*) FROM audit_log WHERE coalesce(before_json, '') LIKE '%scrypt%' OR coalesce(after_json, '') LIKE '%scrypt%'")
            #expect(raw == 0)
        }
    }
}
