import AirlockAdmin
import AirlockCertificates
import AirlockNodeProtocol
import Foundation
import Logging

/// The appliance's side of `EnrolmentExchange` (`POST /agent/v1/enroll` on the HTTPS port): the
/// agent sends its one-time token and a CSR, and gets back its client certificate (naming its
/// node, and org for an org-owned node) and the node CA certificate to trust for 9443. The token
/// is checked, used and the certificate recorded in one transaction
/// (`AdminActions.redeemEnrolment`).
public struct Enrolment: Sendable {
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

    public func enroll(body: Data) async throws(Refusal) -> EnrolmentExchange.Issued {
        guard body.count <= EnrolmentExchange.maxRequestBytes,
              let request = try? JSONDecoder().decode(EnrolmentExchange.Request.self, from: body),
              request.token.utf8.count <= 256, request.csr.utf8.count <= 8 * 1024
        else {
            throw Refusal(status: 400, message: "expected JSON {\"token\": \"node_….…\", \"csr\": \"-----BEGIN CERTIFICATE REQUEST-----…\"}")
        }
        // The CSR is checked before the token is used, so a bad CSR does not burn the token.
        do {
            _ = try NodeAuthority.checkedRequest(request.csr)
        } catch {
            throw Refusal(status: 400, message: "\(error)")
        }
        do {
            let authority = authority
            let csr = request.csr
            let (node, pem) = try await admin.redeemEnrolment(token: request.token) { node in
                try authority.issueClientCertificateWithFingerprint(
                    csrPEM: csr, for: NodeIdentity(nodeID: node.id.rawValue, orgID: node.orgID?.rawValue))
            }
            logger.notice("node enrolled", metadata: ["node": "\(node.name)", "id": "\(node.id)", "sha256": "\(node.certificateSHA256 ?? "-")"])
            return EnrolmentExchange.Issued(nodeID: node.id.rawValue, nodeName: node.name, certificate: pem,
                                            caCertificate: authority.certificatePEM)
        } catch let refused as EnrolmentRefused {
            logger.warning("enrolment refused", metadata: ["reason": "\(refused.reason)"])
            throw Refusal(status: 403, message: refused.description)
        } catch {
            logger.error("enrolment failed", metadata: ["error": "\(error)"])
            throw Refusal(status: 500, message: "enrolment failed on the appliance; see its log")
        }
    }
}
