import AirlockLicensing
import Crypto
import Foundation

/// The vendor release keys an appliance accepts upgrade bundles from — a set apart from the
/// licence keys, so that whoever can sign licences cannot ship code (and the other way round).
/// Production keys are compiled in (`ProductionReleaseKeys`, the same lines as
/// `licenses/trusted-release-keys`, which a test keeps in step); development keys come from files
/// named in airlock.toml (`[upgrade] release_key_files`).
public struct ReleaseKeys: Sendable {
    let keys: [String: Curve25519.Signing.PublicKey]
    /// Key ids of licence keys, to name the mistake when one signed a bundle.
    let licenceKeyIDs: Set<String>

    public init(_ keys: [Curve25519.Signing.PublicKey], licenceKeys: [Curve25519.Signing.PublicKey] = []) {
        self.keys = Dictionary(keys.map { (KeyID.of($0), $0) }, uniquingKeysWith: { first, _ in first })
        licenceKeyIDs = Set(licenceKeys.map(KeyID.of))
    }

    /// The production release keys plus those in `files`. A key that is also a trusted licence
    /// key is refused: one key for both jobs would undo the separation.
    public static func load(extraFiles files: [String], licenceKeys: VendorKeys) throws -> ReleaseKeys {
        let keys: [Curve25519.Signing.PublicKey]
        do {
            keys = try VendorKeys.keys(builtIn: ProductionReleaseKeys.lines, extraFiles: files, what: "release")
        } catch let error as LicensingError {
            throw BundleError(error.description)
        }
        if let shared = keys.first(where: { licenceKeys.keys[KeyID.of($0)] != nil }) {
            throw BundleError("key \(KeyID.of(shared)) is trusted both for licences and for releases; a release key must be a key of its own")
        }
        return ReleaseKeys(keys, licenceKeys: Array(licenceKeys.keys.values))
    }

    /// No release key at all: nothing can be upgraded (before the vendor's key ceremony, with no
    /// development key configured).
    public var isEmpty: Bool { keys.isEmpty }

    /// The key that signed `envelope`, if it is a trusted release key.
    public func key(for envelope: SignedEnvelope) throws -> Curve25519.Signing.PublicKey {
        if let key = keys[envelope.keyID] { return key }
        if licenceKeyIDs.contains(envelope.keyID) {
            throw BundleError("the bundle is signed with the licence key \(envelope.keyID.prefix(32)); bundles must be signed with a release key")
        }
        throw BundleError("the bundle is signed by key \(envelope.keyID.prefix(32)), which is not a release key this appliance trusts (licenses/trusted-release-keys)")
    }
}

/// The vendor's production release keys, exactly as in `licenses/trusted-release-keys` (a test
/// compares the two). Empty until the vendor's key ceremony: until then only development keys
/// from `[upgrade] release_key_files` can sign bundles this appliance accepts.
enum ProductionReleaseKeys {
    static let lines = """
        """
}
