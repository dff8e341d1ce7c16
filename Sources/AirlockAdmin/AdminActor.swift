/// The principal an admin action is performed by, as the front end identified it, recorded in
/// the audit log: `cli:<effective unix user>` for the local CLI, `user:<name>` for dashboard and
/// admin-API users once they exist (issue G).
public struct AdminActor: Sendable, Equatable, CustomStringConvertible {
    public var name: String

    public init(_ name: String) { self.name = name }

    public var description: String { name }
}
