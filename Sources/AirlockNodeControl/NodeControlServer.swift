import AirlockCertificates
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import NIOSSL
import X509

/// Port 9443: gRPC over mutual TLS. The server certificate is issued by the node CA at each
/// start (agents trust only that CA), and the client certificate is judged by `NodeGate` inside
/// the handshake — not by BoringSSL against a trust store — so that an unknown, revoked or
/// mismatched certificate is refused before any gRPC byte, with a log line and an audit row.
public enum NodeControlServer {
    public static func make(host: String, port: Int, hostnames: [String], authority: NodeAuthority, gate: NodeGate,
                            service: NodeControlService) throws -> GRPCServer<HTTP2ServerTransport.Posix> {
        let identity = try authority.issueServerCertificate(hostnames: hostnames)
        let caNIO = try NIOSSLCertificate(bytes: Array(authority.certificatePEM.utf8), format: .pem)
        let security = HTTP2ServerTransport.Posix.TransportSecurity.mTLS(
            certificateChain: [.bytes(Array(identity.certificatePEM.utf8), format: .pem)],
            privateKey: .bytes(Array(identity.keyPEM.utf8), format: .pem)
        ) { config in
            config.clientCertificateVerification = .noHostnameVerification
            config.trustRoots = .certificates([.bytes(Array(authority.certificatePEM.utf8), format: .pem)])
            config.customVerificationCallback = { certificates, promise in
                guard let leafNIO = certificates.first, let der = try? leafNIO.toDERBytes(),
                      let leaf = try? Certificate(derEncoded: der)
                else {
                    promise.succeed(.failed)
                    Task { _ = await gate.refuse("-", "no parsable client certificate", peer: "tls handshake") }
                    return
                }
                Task {
                    if await gate.admit(leaf, peer: "tls handshake") != nil {
                        promise.succeed(.certificateVerified(VerificationMetadata(ValidatedCertificateChain([leafNIO, caNIO]))))
                    } else {
                        promise.succeed(.failed)
                    }
                }
            }
        }
        let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: host, port: port), transportSecurity: security)
        return GRPCServer(transport: transport, services: [service])
    }
}
