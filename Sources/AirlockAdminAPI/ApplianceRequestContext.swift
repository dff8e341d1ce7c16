import Hummingbird
import NIOCore

/// The request context of the daemon's HTTPS port: Hummingbird's basic one plus the client's
/// address, which sign-in audit rows record (where an attempt came from is what an auditor asks
/// first), and the connection's event loop, where the gateway relays a stream. Routes stay
/// generic over the context, so tests can mount them on a basic router.
public struct ApplianceRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public let eventLoop: any EventLoop

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        eventLoop = source.channel.eventLoop
    }

    /// The client's IP address if the context knows it, for audit rows.
    public static func origin(of context: some RequestContext) -> String {
        guard let address = (context as? any RemoteAddressRequestContext)?.remoteAddress else { return "unknown" }
        if case .unixDomainSocket = address { return "local socket" }
        return address.ipAddress ?? "unknown"
    }
}
