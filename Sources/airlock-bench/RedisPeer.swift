import AirlockAdmission
import AirlockCore
import Foundation

/// The Redis side of `airlock-bench admission`: the same four-layer admission policy as
/// `CounterTransaction`, as Redis Lua scripts (`RedisScripts`) called with EVALSHA, against a
/// real `redis-server` this benchmark starts on loopback and always stops. Redis is a benchmark
/// peer only, never a dependency of Airlock.
///
/// Load comes from `redis-benchmark`, the standard Redis tool, so no client library is needed
/// and the Redis side is driven by the same C client everyone quotes Redis figures with. It
/// times `decide` (admit then settle in one call: one round trip per decision, where the
/// gateway would need two).
enum RedisPeer {
    /// How long a lease holds a concurrency slot: `Admission`'s default.
    static let leaseMillis: Int64 = 600_000
    /// Burst allowance of the tokens/s buckets, in seconds of rate: `Admission.burstSeconds`.
    static let burstSeconds: Int64 = 1

    static func measure(traffic: BenchTraffic, decisions: Int, clients: Int) throws -> SideResult {
        let tools = try RedisTools.locate()
        let server = try RedisServer.start(tools)
        defer { server.stop() }
        let scripts = BenchScripts(admit: try server.loadScript(RedisScripts.admit), settle: try server.loadScript(RedisScripts.settle),
                                   decide: try server.loadScript(RedisScripts.decide))
        let command = BenchCommands(traffic: traffic, scripts: scripts)
        try sanityCheck(server, command)

        let run = try server.benchmark(command.decide, requests: decisions, clients: clients, keyspace: traffic.keys)
        // Every timed decision must have been admitted: a refusal writes nothing and would make
        // the Redis side look faster than it is. The global tokens/day total counts every
        // admission's estimate (settled at the estimate), so it gives the count exactly.
        let admitted = (Int(try server.cli(["HGET", "g", "dt"]).first ?? "") ?? 0) / Int(traffic.request(0).estimatedTokens)
        note("redis \(server.version) on 127.0.0.1:\(server.port): \(admitted) of \(decisions) timed decisions admitted")
        guard admitted == decisions else {
            throw RedisPeerError("the Redis run admitted \(admitted) of \(decisions) requests; its figures would not be comparable")
        }
        guard try server.cli(["HGET", "g", "conc"]) == ["0"] else { throw RedisPeerError("the Redis run left concurrency slots held") }
        return SideResult(perSecond: run.rps, p50: Int64(run.p50Micros.rounded()), p99: Int64(run.p99Micros.rounded()))
    }

    /// Proves the scripts enforce the policy before anything is timed: the timed command admits
    /// and settles; admit takes a slot on every layer and settle gives it back; a key limited to
    /// 2 requests/min admits two and refuses the third with the key layer's limit; a key limited
    /// to 1 concurrent request refuses a second until the first settles.
    static func sanityCheck(_ server: RedisServer, _ command: BenchCommands) throws {
        let fill = { (args: [String]) in args.map { $0.replacingOccurrences(of: "__rand_int__", with: "000000000000") } }
        guard try server.cli(fill(command.decide)) == ["1"] else { throw RedisPeerError("decide script did not admit a request within every limit") }
        let scopes = ["g", "o:sanity", "e:sanity", "k:sanity"]
        let admitted = try server.cli(command.admitArguments(scopes: scopes, leaseID: "1", limits: BenchTraffic.limits))
        guard admitted.first == "1", admitted.count == 9 else { throw RedisPeerError("admit script did not admit: \(admitted)") }
        guard try scopes.allSatisfy({ try server.cli(["HGET", $0, "conc"]) == ["1"] }) else { throw RedisPeerError("admit did not take a slot on every layer") }
        _ = try server.cli(command.settleArguments(scopes: scopes, leaseID: "1", admittedAt: admitted[2]))
        guard try scopes.allSatisfy({ try server.cli(["HGET", $0, "conc"]) == ["0"] }) else { throw RedisPeerError("settle did not give the slots back") }

        var limits = BenchTraffic.limits
        limits.key.requestsPerMinute = 2
        let rpmScopes = ["g", "o:rpm", "e:rpm", "k:rpm"]
        let outcomes = try (1...3).map { try server.cli(command.admitArguments(scopes: rpmScopes, leaseID: "r\($0)", limits: limits)) }
        guard outcomes[0].first == "1", outcomes[1].first == "1", outcomes[2].prefix(4) == ["0", "key", "requests_per_minute", "2"] else {
            throw RedisPeerError("admit script did not enforce a 2 requests/min key limit (admit, admit, refuse expected): \(outcomes)")
        }
        limits = BenchTraffic.limits
        limits.key.concurrency = 1
        let slotScopes = ["g", "o:slot", "e:slot", "k:slot"]
        let first = try server.cli(command.admitArguments(scopes: slotScopes, leaseID: "c1", limits: limits))
        let second = try server.cli(command.admitArguments(scopes: slotScopes, leaseID: "c2", limits: limits))
        _ = try server.cli(command.settleArguments(scopes: slotScopes, leaseID: "c1", admittedAt: first[2]))
        let third = try server.cli(command.admitArguments(scopes: slotScopes, leaseID: "c3", limits: limits))
        guard first.first == "1", second.prefix(3) == ["0", "key", "concurrency"], third.first == "1" else {
            throw RedisPeerError("admit script did not enforce a concurrency of 1: \([first, second, third])")
        }
        _ = try server.cli(["FLUSHALL"])  // scripts stay loaded; the counters start empty
    }

    static func note(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

struct RedisPeerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct BenchScripts {
    var admit: String
    var settle: String
    var decide: String
}

/// The EVALSHA command lines the benchmark sends.
struct BenchCommands {
    let traffic: BenchTraffic
    let scripts: BenchScripts

    /// redis-benchmark replaces each `__rand_int__` with its own random number in 0..<keys, so
    /// on the Redis side org, env and key are drawn independently: up to `keys` orgs and envs
    /// instead of keys/50 and keys/10. That spreads Redis's keys wider; it does not make the
    /// policy cheaper or dearer per call.
    static let randomScopes = ["g", "o:__rand_int__", "e:__rand_int__", "k:__rand_int__"]

    /// redis-benchmark sends the same arguments every time, so the lease id is fixed; `decide`
    /// settles within the call, so no two leases are ever held under it at once.
    var decide: [String] {
        var arguments = admitArguments(scopes: Self.randomScopes, leaseID: "bench", limits: BenchTraffic.limits)
        arguments[1] = scripts.decide
        return arguments
    }

    func admitArguments(scopes: [String], leaseID: String, limits: EffectiveLimits) -> [String] {
        let estimate = traffic.request(0).estimatedTokens
        var arguments = ["EVALSHA", scripts.admit, "4"] + scopes
        arguments += [String(estimate), leaseID, String(RedisPeer.leaseMillis), String(RedisPeer.burstSeconds)]
        for set in [limits.global, limits.org, limits.env, limits.key] {
            for limit in [set.tokensPerDay, set.requestsPerMinute, set.tokensPerMinute, set.tokensPerSecond, set.concurrency] {
                arguments.append(limit.map(String.init) ?? "-")
            }
        }
        return arguments
    }

    /// Settled with actual = estimate, as the LMDB loop does.
    func settleArguments(scopes: [String], leaseID: String, admittedAt: String) -> [String] {
        let estimate = String(traffic.request(0).estimatedTokens)
        return ["EVALSHA", scripts.settle, "4"] + scopes + [leaseID, estimate, estimate, admittedAt]
    }
}
