import AirlockCertificates
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOSSL

/// `airlock-agent enroll`: makes the node's key and CSR here, sends the CSR with the one-time
/// token to the appliance's HTTPS port (trusting only the certificate file the operator gives),
/// and saves what comes back.
public enum AgentEnrolment {
    public static func enroll(appliance: String, applianceCA: String, token: String, state: AgentState) async throws -> AgentState.Identity {
        guard !state.isEnrolled else {
            throw AgentError("\(state.directory) is already enrolled; revoke the node and use a fresh state directory to enrol again")
        }
        let (csr, key) = try NodeKeyRequest.make(commonName: "airlock-agent")
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(applianceCA)
        tls.minimumTLSVersion = .tlsv12
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.redirectConfiguration = .disallow
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var request = HTTPClientRequest(url: appliance + "/agent/v1/enroll")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(["token": token, "csr": csr])))
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await client.execute(request, timeout: .seconds(30))
            body = try await response.body.collect(upTo: 1024 * 1024)
        } catch {
            try? await client.shutdown()
            throw AgentError("could not reach \(appliance): \(error)")
        }
        try? await client.shutdown()
        guard response.status == .ok else {
            struct Refusal: Decodable { struct Detail: Decodable { var message: String }; var error: Detail }
            let message = (try? JSONDecoder().decode(Refusal.self, from: body))?.error.message ?? "HTTP \(response.status.code)"
            throw AgentError("enrolment refused: \(message)")
        }
        struct Issued: Decodable {
            var node_id: String
            var node_name: String
            var certificate: String
            var ca_certificate: String
        }
        let issued = try JSONDecoder().decode(Issued.self, from: body)
        let identity = AgentState.Identity(nodeID: issued.node_id, nodeName: issued.node_name)
        try state.save(keyPEM: key, certificatePEM: issued.certificate, caPEM: issued.ca_certificate, identity: identity)
        return identity
    }
}
