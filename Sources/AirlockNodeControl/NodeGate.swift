import AirlockAdmin
import AirlockCertificates
import AirlockCore
import Foundation
import Logging
import X509

/// Decides whether a client certificate on port 9443 may speak for a node. Checked during the
/// TLS handshake (so a refused agent never reaches gRPC) and again when its stream registers:
/// signed by the node CA and within its validity; names a node that is enrolled (not pending,
/// not revoked) with exactly this certificate's fingerprint; names the node's org, or none for
/// a shared node. Every refusal is a log line and an audit row.
public struct NodeGate: Sendable {
    let authority: NodeAuthority
    let admin: AdminActions
    let logger: Logger

    public init(authority: NodeAuthority, admin: AdminActions, logger: Logger) {
        self.authority = authority
        self.admin = admin
        self.logger = logger
    }

    /// The node `certificate` may speak for, or nil (refusal logged and audited).
    public func admit(_ certificate: Certificate, peer: String) async -> Node? {
        guard let identity = await authority.verifyClient(certificate) else {
            return await refuse("-", "certificate not issued by this appliance's node CA, expired, or not a client certificate",
                                peer: peer)
        }
        let node: Node
        do {
            node = try await admin.node(identity.nodeID)
        } catch {
            return await refuse(identity.nodeID, "no such node in the registry", peer: peer)
        }
        guard node.enrolment == .enrolled else {
            return await refuse(node.id.rawValue, "node \(node.name) is \(node.enrolment.rawValue)", peer: peer)
        }
        guard node.certificateSHA256 == NodeAuthority.fingerprint(certificate) else {
            return await refuse(node.id.rawValue, "node \(node.name) presented a certificate other than the one issued at its enrolment",
                                peer: peer)
        }
        guard identity.orgID == node.orgID?.rawValue else {
            return await refuse(node.id.rawValue, "certificate names org \(identity.orgID ?? "none") but node \(node.name) belongs to \(node.orgID?.rawValue ?? "no org (shared)")",
                                peer: peer)
        }
        return node
    }

    /// Logs and audits a refusal; returns nil for the caller to pass on.
    func refuse(_ node: String, _ reason: String, peer: String, action: String = "node.connect_refused") async -> Node? {
        logger.warning("node agent refused", metadata: ["node": "\(node)", "peer": "\(peer)", "reason": "\(reason)"])
        do {
            try await admin.auditAgentRefusal(action: action, node: node, reason: "\(reason) (peer \(peer))")
        } catch {
            logger.error("could not audit a node refusal", metadata: ["error": "\(error)"])
        }
        return nil
    }
}
