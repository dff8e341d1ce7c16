/// One admin action as the audit log records it: who did what to which thing, when, and the
/// thing's state before and after (as JSON; `nil` where it did not exist).
public struct AuditEntry: Codable, Sendable, Equatable {
    public var timestamp: UnixMillis
    /// The authenticated principal, e.g. `cli:root` or `user:alice`.
    public var actor: String
    /// A dotted verb such as `org.create` or `key.rotate`.
    public var action: String
    public var targetType: String
    public var targetID: String
    public var before: String?
    public var after: String?

    public init(
        timestamp: UnixMillis, actor: String, action: String, targetType: String, targetID: String,
        before: String?, after: String?
    ) {
        self.timestamp = timestamp
        self.actor = actor
        self.action = action
        self.targetType = targetType
        self.targetID = targetID
        self.before = before
        self.after = after
    }
}
