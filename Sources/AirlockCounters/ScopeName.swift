/// The LMDB names of counter scopes (the key layout is in ``CounterAccess``). Built here and
/// nowhere else, so admission, the lease records and the rebuild from the ledger agree.
public enum ScopeName {
    public static let global = "g"
    public static func org(_ id: String) -> String { "o:" + id }
    public static func env(_ id: String) -> String { "e:" + id }
    public static func key(_ id: String) -> String { "k:" + id }
    /// An org's reserved-capacity bucket for one model.
    public static func reserved(org id: String, model: String) -> String { "r:\(id):\(model)" }

    /// The four layers a request is counted in, outermost first: global, org, env, key.
    public static func layers(org: String, env: String, key: String) -> [String] {
        [global, Self.org(org), Self.env(env), Self.key(key)]
    }
}
