import AirlockCertificates
import Foundation

/// What enrolment leaves on the GPU host, in the agent's state directory (0700): the node's key
/// (0600, never leaves the host), its certificate, the node CA to trust for 9443, and who it is.
public struct AgentState: Sendable {
    public let directory: String
    public var keyPath: String { directory + "/node.key" }
    public var certificatePath: String { directory + "/node.crt" }
    public var caPath: String { directory + "/ca.crt" }
    public var identityPath: String { directory + "/node.json" }

    public struct Identity: Codable, Sendable {
        public var nodeID: String
        public var nodeName: String
        enum CodingKeys: String, CodingKey { case nodeID = "node_id", nodeName = "node_name" }
    }

    public init(directory: String) { self.directory = directory }

    public var isEnrolled: Bool { FileManager.default.fileExists(atPath: identityPath) }

    public func identity() throws -> Identity {
        guard let data = FileManager.default.contents(atPath: identityPath) else {
            throw AgentError("\(directory) holds no enrolment; run `airlock-agent enroll` first")
        }
        return try JSONDecoder().decode(Identity.self, from: data)
    }

    /// Writes the enrolment's files; the key first (0600), the identity last, so a half-written
    /// state directory never looks enrolled.
    func save(keyPEM: String, certificatePEM: String, caPEM: String, identity: Identity) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try PEMFiles.write(keyPEM, to: keyPath, mode: 0o600)
        try PEMFiles.write(certificatePEM, to: certificatePath, mode: 0o644)
        try PEMFiles.write(caPEM, to: caPath, mode: 0o644)
        try PEMFiles.write(String(decoding: try JSONEncoder().encode(identity), as: UTF8.self) + "\n", to: identityPath, mode: 0o644)
    }
}

/// A failure the agent reports as one plain line.
public struct AgentError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
