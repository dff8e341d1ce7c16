/// The LMDB names of counter scopes (the key layout is in ``CounterAccess``). Built here and
/// nowhere else, so admission, the lease records and the rebuild from the ledger agree.
public enum ScopeName {
    public static let global = "g"
    public static func org(_ id: String) -> String { "o:" + id }
    public static func env(_ id: String) -> String { "e:" + id }
    public static func key(_ id: String) -> String { "k:" + id }
    /// An org's reserved-capacity bucket for one model.
    public static func reserved(org id: String, model: String) -> String { "r:\(id):\(model)" }

    /// How reports name a layer scope: `global`, `org:<id>`, `env:<id>`, `key:<id>`; nil for any
    /// other record (a reserved-capacity bucket, a lease, a mark).
    public static func described(_ name: String) -> String? {
        if name == global { return "global" }
        for (prefix, label) in [("o:", "org:"), ("e:", "env:"), ("k:", "key:")] where name.hasPrefix(prefix) {
            return label + name.dropFirst(prefix.count)
        }
        return nil
    }

    /// The four layers a request is counted in, outermost first: global, org, env, key.
    public static func layers(org: String, env: String, key: String) -> [String] {
        [global, Self.org(org), Self.env(env), Self.key(key)]
    }
}
