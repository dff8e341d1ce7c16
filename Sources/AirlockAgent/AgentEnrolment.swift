import AirlockCertificates
import AirlockNodeProtocol
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOSSL

/// `airlock-agent enroll`: makes the node's key and CSR here, sends the CSR with the one-time
/// token to the appliance's HTTPS port (`EnrolmentExchange`, trusting only the certificate file
/// the operator gives), and saves what comes back.
public enum AgentEnrolment {
    public static func enroll(appliance: String, applianceCA: String, token: String, state: AgentState) async throws -> AgentState.Identity {
        guard !state.isEnrolled else {
            throw AgentError("\(state.directory) is already enrolled; revoke the node and use a fresh state directory to enrol again")
        }
        let (csr, key) = try NodeKeyRequest.make(commonName: "airlock-agent")
        var request = HTTPClientRequest(url: appliance + EnrolmentExchange.path)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(EnrolmentExchange.Request(token: token, csr: csr))))
        let (status, body) = try await post(request, trusting: applianceCA, to: appliance)
        guard status == 200 else {
            let message = (try? JSONDecoder().decode(EnrolmentExchange.Failure.self, from: body))?.error.message ?? "HTTP \(status)"
            throw AgentError("enrolment refused: \(message)")
        }
        let issued = try JSONDecoder().decode(EnrolmentExchange.Issued.self, from: body)
        let identity = AgentState.Identity(nodeID: issued.nodeID, nodeName: issued.nodeName)
        try state.save(keyPEM: key, certificatePEM: issued.certificate, caPEM: issued.caCertificate, identity: identity)
        return identity
    }

    /// One request over TLS 1.2+ trusting only `caFile`; the client is shut down on every path.
    private static func post(_ request: HTTPClientRequest, trusting caFile: String, to appliance: String) async throws
        -> (status: UInt, body: ByteBuffer)
    {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caFile)
        tls.minimumTLSVersion = .tlsv12
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.redirectConfiguration = .disallow
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1024 * 1024)
            try await client.shutdown()
            return (response.status.code, body)
        } catch {
            try? await client.shutdown()
            throw AgentError("could not reach \(appliance): \(error)")
        }
    }
}
