import AirlockTestSupport
import CLMDB
import Testing

/// CLMDB is only a module map; this proves it finds Debian's liblmdb, links, and can open and
/// write an environment. AirlockCounters (issue B) wraps it properly.
@Suite struct CLMDBLinkTests {
    @Test func opensAnEnvironmentAndRoundTripsAValue() throws {
        let dir = TemporaryDirectory("lmdb")
        var env: OpaquePointer?
        #expect(mdb_env_create(&env) == 0)
        defer { mdb_env_close(env) }
        #expect(mdb_env_open(env, dir.path, 0, 0o600) == 0)

        var txn: OpaquePointer?
        #expect(mdb_txn_begin(env, nil, 0, &txn) == 0)
        var dbi: MDB_dbi = 0
        #expect(mdb_dbi_open(txn, nil, 0, &dbi) == 0)
        var keyBytes = Array("k".utf8)
        var valueBytes: [UInt8] = [42]
        try keyBytes.withUnsafeMutableBytes { keyBuffer in
            try valueBytes.withUnsafeMutableBytes { valueBuffer in
                var key = MDB_val(mv_size: 1, mv_data: keyBuffer.baseAddress)
                var value = MDB_val(mv_size: 1, mv_data: valueBuffer.baseAddress)
                try #require(mdb_put(txn, dbi, &key, &value, 0) == 0)
                var read = MDB_val()
                try #require(mdb_get(txn, dbi, &key, &read) == 0)
                #expect(read.mv_data.load(as: UInt8.self) == 42)
            }
        }
        #expect(mdb_txn_commit(txn) == 0)
    }
}
