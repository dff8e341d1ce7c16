import GRPCCore
import NIOCore
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// A socket airlockd could not listen on, named with its setting and address. Without it a port
/// already taken — by another airlockd, or another service — read as `serverIsStopped: There
/// is no listening address bound for this server` (the agents' gRPC port) or a bare `bind(…):
/// Address already in use` (the HTTPS port), and the daemon then exited 0, so systemd's
/// `Restart=on-failure` and a monitor saw a clean stop. `Serve` exits 1 with this as its message.
struct ListenFailure: Error, CustomStringConvertible {
    /// What listens there, as the operator configures it: "the HTTPS API ([api] listen)".
    var what: String
    var address: String
    var underlying: any Error

    var description: String {
        "could not listen for \(what) on \(address): \(Self.reason(underlying))"
    }

    /// The errno a bind failure carries: NIO's `IOError`, which gRPC's server wraps in a
    /// `RuntimeError` (`transportError`).
    static func errno(of error: any Error) -> Int32? {
        switch error {
        case let error as IOError: return error.errnoCode
        case let error as RuntimeError: return error.cause.flatMap(Self.errno(of:))
        default: return nil
        }
    }

    /// True for an error binding a socket: the kind a listener fails with at start.
    static func isBindFailure(_ error: any Error) -> Bool {
        guard let code = errno(of: error) else { return false }
        return [EADDRINUSE, EACCES, EADDRNOTAVAIL].contains(code)
    }

    private static func reason(_ error: any Error) -> String {
        switch errno(of: error) {
        case EADDRINUSE: "the address is already in use (another airlockd, or another service on that port?)"
        case EACCES: "permission denied (a port below 1024 needs CAP_NET_BIND_SERVICE)"
        case EADDRNOTAVAIL: "no network interface of this host has that address"
        default: "\(error)"
        }
    }
}

/// A listening service whose bind failure is reported as a ``ListenFailure`` naming it.
struct NamedListener<Base: Service>: Service {
    let what: String
    let address: String
    let base: Base

    func run() async throws {
        do {
            try await base.run()
        } catch where ListenFailure.isBindFailure(error) {
            throw ListenFailure(what: what, address: address, underlying: error)
        }
    }
}
