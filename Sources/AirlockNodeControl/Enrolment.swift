import AirlockAdmin
import AirlockCertificates
import Foundation
import Logging

/// `POST /agent/v1/enroll` on the HTTPS port: the agent sends its one-time token and a CSR, and
/// gets back its client certificate (naming its node, and org for an org-owned node) and the
/// node CA certificate to trust for 9443. It rides the HTTPS port because 9443 accepts only
/// certificates this exchange issues. The token is checked, used and the certificate recorded
/// in one transaction (`AdminActions.redeemEnrolment`).
public struct Enrolment: Sendable {
    public struct Request: Decodable, Sendable {
        public var token: String
        public var csr: String
    }

    public struct Issued: Codable, Sendable {
        public var nodeID: String
        public var nodeName: String
        public var certificate: String
        public var caCertificate: String

        enum CodingKeys: String, CodingKey {
            case nodeID = "node_id", nodeName = "node_name", certificate, caCertificate = "ca_certificate"
        }
    }

    /// A refusal: HTTP status and a message for the agent.
    public struct Refusal: Error, Sendable {
        public var status: Int
        public var message: String
    }

    let admin: AdminActions
    let authority: NodeAuthority
    let logger: Logger

    public init(admin: AdminActions, authority: NodeAuthority, logger: Logger) {
        self.admin = admin
        self.authority = authority
        self.logger = logger
    }

    public static let maxBodyBytes = 16 * 1024

    public func enroll(body: Data) async throws(Refusal) -> Issued {
        guard body.count <= Self.maxBodyBytes, let request = try? JSONDecoder().decode(Request.self, from: body),
              request.token.utf8.count <= 256, request.csr.utf8.count <= 8 * 1024
        else {
            throw Refusal(status: 400, message: "expected JSON {\"token\": \"node_….…\", \"csr\": \"-----BEGIN CERTIFICATE REQUEST-----…\"}")
        }
        // The CSR is parsed before the token is used, so a bad CSR does not burn the token.
        guard (try? authority.issueClientCertificate(csrPEM: request.csr, for: NodeIdentity(nodeID: "node_0000000000000000", orgID: nil))) != nil
        else {
            throw Refusal(status: 400, message: "csr is not a valid PEM certificate signing request")
        }
        do {
            let authority = authority
            let csr = request.csr
            let (node, pem) = try await admin.redeemEnrolment(token: request.token) { node in
                try authority.issueClientCertificateWithFingerprint(csrPEM: csr, for: NodeIdentity(nodeID: node.id.rawValue, orgID: node.orgID?.rawValue))
            }
            logger.notice("node enrolled", metadata: ["node": "\(node.name)", "id": "\(node.id)", "sha256": "\(node.certificateSHA256 ?? "-")"])
            return Issued(nodeID: node.id.rawValue, nodeName: node.name, certificate: pem, caCertificate: authority.certificatePEM)
        } catch let refused as EnrolmentRefused {
            logger.warning("enrolment refused", metadata: ["reason": "\(refused.reason)"])
            throw Refusal(status: 403, message: refused.description)
        } catch {
            logger.error("enrolment failed", metadata: ["error": "\(error)"])
            throw Refusal(status: 500, message: "enrolment failed on the appliance; see its log")
        }
    }
}
