/// The one agent ↔ daemon exchange that is not on port 9443: `POST /agent/v1/enroll` on the
/// appliance's HTTPS port, JSON both ways. It cannot ride 9443, which accepts only the
/// certificates this exchange issues. Both sides use these types, so the wire shape is written
/// down once.
public enum EnrolmentExchange {
    public static let path = "/agent/v1/enroll"
    /// A token and a P-256 CSR fit in a few KiB; anything larger is refused unread.
    public static let maxRequestBytes = 16 * 1024

    /// The agent's one-time token and its certificate signing request (PEM).
    public struct Request: Codable, Sendable {
        public var token: String
        public var csr: String

        public init(token: String, csr: String) {
            self.token = token
            self.csr = csr
        }
    }

    /// What the appliance issued: the node's certificate and the CA to trust for 9443.
    public struct Issued: Codable, Sendable {
        public var nodeID: String
        public var nodeName: String
        public var certificate: String
        public var caCertificate: String

        public init(nodeID: String, nodeName: String, certificate: String, caCertificate: String) {
            self.nodeID = nodeID
            self.nodeName = nodeName
            self.certificate = certificate
            self.caCertificate = caCertificate
        }

        enum CodingKeys: String, CodingKey {
            case nodeID = "node_id", nodeName = "node_name", certificate, caCertificate = "ca_certificate"
        }
    }

    /// A refusal's body: `{"error": {"message": "…"}}`.
    public struct Failure: Codable, Sendable {
        public struct Detail: Codable, Sendable {
            public var message: String
        }

        public var error: Detail

        public init(message: String) { error = Detail(message: message) }
    }
}
