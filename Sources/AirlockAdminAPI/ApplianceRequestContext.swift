import Hummingbird
import NIOCore

/// The request context of the daemon's HTTPS port: Hummingbird's basic one plus the client's
/// address, which sign-in audit rows record (where an attempt came from is what an auditor asks
/// first). Routes stay generic over the context, so tests can mount them on a basic router.
public struct ApplianceRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address if the context knows it, for audit rows.
    public static func origin(of context: some RequestContext) -> String {
        guard let address = (context as? any RemoteAddressRequestContext)?.remoteAddress else { return "unknown" }
        if case .unixDomainSocket = address { return "local socket" }
        return address.ipAddress ?? "unknown"
    }
}
