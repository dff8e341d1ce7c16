import AirlockCore
import Crypto
import Foundation
import Synchronization

/// Signed-in dashboard and admin-API sessions, held in memory only: a restart signs everyone
/// out, and no session token is ever written to disk. The cookie carries a random token; the
/// store keys sessions by its SHA-256, so even a heap dump does not hold a usable token.
public final class SessionStore: Sendable {
    /// One signed-in user.
    public struct Session: Sendable {
        public var userName: String
        /// Sent back on every state-changing request (header `X-CSRF-Token` or form field `csrf`).
        public var csrfToken: String
        public var createdAt: UnixMillis
        public var lastSeen: UnixMillis
    }

    /// Why a presented token did not name a live session.
    public enum Lookup: Sendable {
        case live(Session)
        /// It existed but ran past its idle or absolute limit (and is now gone).
        case expired(Session)
        case unknown
    }

    public let idleSeconds: Int64
    public let lifetimeSeconds: Int64
    /// A bound on live sessions, so repeated sign-ins cannot grow memory without end; the oldest
    /// idle one goes first.
    public let capacity: Int
    private let sessions = Mutex<[String: Session]>([:])

    public init(idleSeconds: Int64 = 15 * 60, lifetimeSeconds: Int64 = 12 * 3_600, capacity: Int = 10_000) {
        self.idleSeconds = idleSeconds
        self.lifetimeSeconds = lifetimeSeconds
        self.capacity = capacity
    }

    /// Starts a session for `user`; returns the cookie token (shown to nobody else) and the session.
    public func open(user: String, now: UnixMillis) -> (token: String, session: Session) {
        let token = Self.randomToken()
        let session = Session(userName: user, csrfToken: Self.randomToken(), createdAt: now, lastSeen: now)
        sessions.withLock { all in
            if all.count >= capacity, let oldest = all.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key {
                all[oldest] = nil
            }
            all[Self.key(token)] = session
        }
        return (token, session)
    }

    /// The live session `token` names, touched now; expired sessions are removed as they are found.
    public func lookup(_ token: String, now: UnixMillis) -> Lookup {
        let key = Self.key(token)
        return sessions.withLock { all in
            guard var session = all[key] else { return .unknown }
            let idle = now.value - session.lastSeen.value > idleSeconds * 1000
            let old = now.value - session.createdAt.value > lifetimeSeconds * 1000
            if idle || old {
                all[key] = nil
                return .expired(session)
            }
            session.lastSeen = now
            all[key] = session
            return .live(session)
        }
    }

    public func close(_ token: String) {
        _ = sessions.withLock { $0.removeValue(forKey: Self.key(token)) }
    }

    /// Ends every session of a user (disabled, password changed, role changed).
    public func closeAll(user: String) {
        sessions.withLock { all in all = all.filter { $0.value.userName.lowercased() != user.lowercased() } }
    }

    public var count: Int { sessions.withLock { $0.count } }

    static func key(_ token: String) -> String { Array(SHA256.hash(data: Data(token.utf8))).hexString }

    /// 32 random bytes, base64url without padding: safe in a cookie and a form field.
    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
