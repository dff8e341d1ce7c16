/// The authenticated principal an admin action is performed by, as recorded in the audit log:
/// `cli:<unix user>` for the local CLI, `user:<name>` for dashboard and admin-API users.
public struct AdminActor: Sendable, Equatable, CustomStringConvertible {
    public var name: String

    public init(_ name: String) { self.name = name }

    public var description: String { name }
}
