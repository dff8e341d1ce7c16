import GRDB

/// Every schema change Airlock has ever made, in order. Append only: a migration that has shipped
/// is never edited, because appliances in the field have already run it.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("001_tenancy", migrate: createTenancy)
        migrator.registerMigration("002_infrastructure", migrate: createInfrastructure)
        migrator.registerMigration("003_usage_ledger", migrate: createUsageLedger)
        migrator.registerMigration("004_audit_log", migrate: createAuditLog)
        migrator.registerMigration("005_limits", migrate: createLimits)
        migrator.registerMigration("006_node_enrolment", migrate: addNodeEnrolment)
        migrator.registerMigration("007_catalog_generation", migrate: addCatalogGeneration)
        migrator.registerMigration("008_ledger_failover", migrate: addLedgerFailover)
        migrator.registerMigration("009_environment_zone", migrate: addEnvironmentZone)
        migrator.registerMigration("010_node_reload", migrate: addNodeReload)
        migrator.registerMigration("011_audit_log_ts", migrate: indexAuditTime)
        migrator.registerMigration("012_admin_users", migrate: createAdminUsers)
        migrator.registerMigration("013_accounting", migrate: createAccounting)
        return migrator
    }

    /// Names of all migrations, for status output and tests.
    static var identifiers: [String] { migrator.migrations }

    private static func createTenancy(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE orgs (
                id          TEXT PRIMARY KEY NOT NULL,
                name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
                status      TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
                created_at  INTEGER NOT NULL
            ) STRICT;

            CREATE TABLE environments (
                id          TEXT PRIMARY KEY NOT NULL,
                org_id      TEXT NOT NULL REFERENCES orgs(id),
                name        TEXT NOT NULL COLLATE NOCASE,
                status      TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
                created_at  INTEGER NOT NULL,
                UNIQUE (org_id, name),
                UNIQUE (id, org_id)
            ) STRICT;

            -- The composite foreign key makes "a key cannot cross orgs" a database fact.
            CREATE TABLE api_keys (
                id              TEXT PRIMARY KEY NOT NULL,
                org_id          TEXT NOT NULL REFERENCES orgs(id),
                env_id          TEXT NOT NULL,
                name            TEXT COLLATE NOCASE,
                status          TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
                created_at      INTEGER NOT NULL,
                expires_at      INTEGER,
                allowed_models  TEXT,
                FOREIGN KEY (env_id, org_id) REFERENCES environments(id, org_id),
                UNIQUE (env_id, name)
            ) STRICT;
            CREATE INDEX api_keys_org ON api_keys(org_id);

            -- Secrets are stored only as HMAC-SHA-256 under the appliance's key-hashing secret.
            CREATE TABLE api_key_credentials (
                display_prefix  TEXT PRIMARY KEY NOT NULL,
                key_id          TEXT NOT NULL REFERENCES api_keys(id),
                hash            TEXT NOT NULL UNIQUE,
                created_at      INTEGER NOT NULL,
                retires_at      INTEGER
            ) STRICT;
            CREATE INDEX api_key_credentials_key ON api_key_credentials(key_id);

            -- Bumped by triggers on every tenancy change, so an identity cache in any process can
            -- tell that it is stale with one tiny read.
            CREATE TABLE tenancy_generation (
                id     INTEGER PRIMARY KEY CHECK (id = 1),
                value  INTEGER NOT NULL
            ) STRICT;
            INSERT INTO tenancy_generation (id, value) VALUES (1, 0);
            """)
        for table in ["orgs", "environments", "api_keys", "api_key_credentials"] {
            // Revocation is terminal at the database too, not only in the admin layer.
            if table != "api_key_credentials" {
                try db.execute(sql: """
                    CREATE TRIGGER \(table)_revoked_is_final BEFORE UPDATE OF status ON \(table)
                    WHEN OLD.status = 'revoked' AND NEW.status != 'revoked'
                    BEGIN SELECT RAISE(ABORT, '\(table): a revoked row cannot be reactivated'); END;
                    """)
            }
            try db.execute(sql: """
                CREATE TRIGGER \(table)_no_delete BEFORE DELETE ON \(table)
                BEGIN SELECT RAISE(ABORT, '\(table): rows are never deleted; revoke instead'); END;
                """)
            for event in ["INSERT", "UPDATE"] {
                try db.execute(sql: """
                    CREATE TRIGGER \(table)_generation_\(event.lowercased()) AFTER \(event) ON \(table)
                    BEGIN UPDATE tenancy_generation SET value = value + 1 WHERE id = 1; END;
                    """)
            }
        }
    }

    private static func createInfrastructure(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE zones (
                name        TEXT PRIMARY KEY NOT NULL,
                created_at  INTEGER NOT NULL
            ) STRICT;

            CREATE TABLE models (
                name        TEXT PRIMARY KEY NOT NULL,
                created_at  INTEGER NOT NULL
            ) STRICT;

            -- Node rows persist identity and enrolment; live state (heartbeats, load) is in memory.
            CREATE TABLE nodes (
                id          TEXT PRIMARY KEY NOT NULL,
                name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
                zone        TEXT REFERENCES zones(name),
                org_id      TEXT REFERENCES orgs(id),
                status      TEXT NOT NULL,
                created_at  INTEGER NOT NULL
            ) STRICT;
            """)
    }

    /// The model catalog bumps the tenancy generation like the other tenancy tables (migration
    /// 002 left `models` without these triggers), so a running daemon notices a change within a
    /// second whoever made it.
    private static func addCatalogGeneration(_ db: Database) throws {
        for event in ["INSERT", "UPDATE", "DELETE"] {
            try db.execute(sql: """
                CREATE TRIGGER models_generation_\(event.lowercased()) AFTER \(event) ON models
                BEGIN UPDATE tenancy_generation SET value = value + 1 WHERE id = 1; END;
                """)
        }
    }

    /// Enrolment (seed 004 § 44.1 via issue D): the one-time token's keyed hash and expiry, the
    /// issued certificate's fingerprint, and the operator's drain flag. `status` holds
    /// `pending` / `enrolled` / `revoked` (``NodeEnrolment``).
    private static func addNodeEnrolment(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE nodes ADD COLUMN enrol_token_hash TEXT;
            ALTER TABLE nodes ADD COLUMN enrol_expires_at INTEGER;
            ALTER TABLE nodes ADD COLUMN enrolled_at INTEGER;
            ALTER TABLE nodes ADD COLUMN certificate_sha256 TEXT;
            ALTER TABLE nodes ADD COLUMN draining INTEGER NOT NULL DEFAULT 0 CHECK (draining IN (0, 1));
            """)
    }

    private static func createUsageLedger(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE usage_ledger (
                seq                INTEGER PRIMARY KEY NOT NULL,
                usage_id           TEXT NOT NULL UNIQUE,
                request_id         TEXT NOT NULL,
                ts                 INTEGER NOT NULL,
                org_id             TEXT NOT NULL,
                env_id             TEXT NOT NULL,
                key_id             TEXT NOT NULL,
                zone               TEXT NOT NULL,
                model              TEXT NOT NULL,
                node               TEXT NOT NULL,
                prompt_tokens      INTEGER NOT NULL CHECK (prompt_tokens >= 0),
                completion_tokens  INTEGER NOT NULL CHECK (completion_tokens >= 0),
                total_tokens       INTEGER NOT NULL CHECK (total_tokens = prompt_tokens + completion_tokens),
                latency_ms         INTEGER NOT NULL CHECK (latency_ms >= 0),
                cost_micros        INTEGER NOT NULL CHECK (cost_micros >= 0),
                streamed           INTEGER NOT NULL CHECK (streamed IN (0, 1)),
                finish_reason      TEXT,
                token_source       TEXT NOT NULL CHECK (token_source IN ('engine', 'estimated')),
                prev_hash          TEXT NOT NULL,
                hash               TEXT NOT NULL
            ) STRICT;
            CREATE INDEX usage_ledger_ts ON usage_ledger(ts);
            """)
        try createChainTriggers(db, table: "usage_ledger")
    }

    private static func createAuditLog(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE audit_log (
                seq          INTEGER PRIMARY KEY NOT NULL,
                ts           INTEGER NOT NULL,
                actor        TEXT NOT NULL,
                action       TEXT NOT NULL,
                target_type  TEXT NOT NULL,
                target_id    TEXT NOT NULL,
                before_json  TEXT,
                after_json   TEXT,
                prev_hash    TEXT NOT NULL,
                hash         TEXT NOT NULL
            ) STRICT;
            CREATE INDEX audit_log_target ON audit_log(target_type, target_id);
            """)
        try createChainTriggers(db, table: "audit_log")
    }

    /// Per-org/env/key limit overrides (NULL column = the `[limits.*]` default from airlock.toml)
    /// and reserved capacity. Both bump the tenancy generation, so admission picks changes up
    /// within its refresh interval.
    private static func createLimits(_ db: Database) throws {
        let positive = { (column: String) in "\(column) INTEGER CHECK (\(column) IS NULL OR \(column) > 0)" }
        try db.execute(sql: """
            CREATE TABLE limit_overrides (
                scope_type  TEXT NOT NULL CHECK (scope_type IN ('org', 'env', 'key')),
                scope_id    TEXT NOT NULL,
                \(positive("requests_per_minute")),
                \(positive("tokens_per_minute")),
                \(positive("tokens_per_second")),
                \(positive("concurrency")),
                \(positive("tokens_per_day")),
                updated_at  INTEGER NOT NULL,
                PRIMARY KEY (scope_type, scope_id)
            ) STRICT;

            CREATE TABLE reservations (
                org_id          TEXT NOT NULL REFERENCES orgs(id),
                model           TEXT NOT NULL,
                capacity_units  INTEGER NOT NULL CHECK (capacity_units > 0),
                updated_at      INTEGER NOT NULL,
                PRIMARY KEY (org_id, model)
            ) STRICT;
            """)
        for table in ["limit_overrides", "reservations"] {
            for event in ["INSERT", "UPDATE", "DELETE"] {
                try db.execute(sql: """
                    CREATE TRIGGER \(table)_generation_\(event.lowercased()) AFTER \(event) ON \(table)
                    BEGIN UPDATE tenancy_generation SET value = value + 1 WHERE id = 1; END;
                    """)
            }
        }
    }

    /// Ledger format 2: rows say whether they were served after a failover, and which format
    /// their hash follows (`ChainedRows`). Earlier rows keep format 1 and their hashes. ADD
    /// COLUMN does not touch existing rows, so the append-only triggers are not involved; a new
    /// trigger refuses a row in an older format than the chain's head.
    private static func addLedgerFailover(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE usage_ledger ADD COLUMN failover INTEGER NOT NULL DEFAULT 0 CHECK (failover IN (0, 1));
            ALTER TABLE usage_ledger ADD COLUMN format INTEGER NOT NULL DEFAULT 1 CHECK (format IN (1, 2));

            CREATE TRIGGER usage_ledger_format_never_regresses BEFORE INSERT ON usage_ledger
            WHEN NEW.format < COALESCE((SELECT format FROM usage_ledger ORDER BY seq DESC LIMIT 1), 1)
            BEGIN SELECT RAISE(ABORT, 'usage_ledger: a row in an older format than the chain head'); END;
            """)
    }

    /// An environment's zone (NULL: the appliance's home zone). Updating `environments` already
    /// bumps the tenancy generation, so daemons pick a change up within a second.
    private static func addEnvironmentZone(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE environments ADD COLUMN zone TEXT")
    }

    /// The operator's engine-reload requests per node, counted: the daemon compares the count
    /// with the last it saw, so a request made from another process reaches it within a second.
    private static func addNodeReload(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE nodes ADD COLUMN reload_requests INTEGER NOT NULL DEFAULT 0 CHECK (reload_requests >= 0)")
    }

    /// The licence's clock high-water mark reads `max(ts)` of the audit log every few seconds;
    /// without an index that is a scan of a table that only grows.
    private static func indexAuditTime(_ db: Database) throws {
        try db.execute(sql: "CREATE INDEX audit_log_ts ON audit_log(ts)")
    }

    /// Local dashboard / admin-API users (issue G). The password hash is a self-describing scrypt
    /// string (`PasswordHash`), so its cost can rise later without a migration. An org-admin names
    /// exactly one org and no other role names any.
    private static func createAdminUsers(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE admin_users (
                name                 TEXT PRIMARY KEY NOT NULL COLLATE NOCASE,
                role                 TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'auditor', 'viewer', 'org-admin')),
                org_id               TEXT REFERENCES orgs(id),
                status               TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
                password_hash        TEXT NOT NULL,
                failed_logins        INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
                locked_until         INTEGER,
                created_at           INTEGER NOT NULL,
                password_changed_at  INTEGER NOT NULL,
                CHECK ((role = 'org-admin') = (org_id IS NOT NULL))
            ) STRICT;
            """)
    }

    /// Append-only at the database: no UPDATE, no DELETE, and an INSERT must extend the chain —
    /// the next `seq` and the current head's hash as `prev_hash`. SQLite cannot compute SHA-256,
    /// so the hash itself is checked by `ChainVerifier`.
    private static func createChainTriggers(_ db: Database, table: String) throws {
        try db.execute(sql: """
            CREATE TRIGGER \(table)_no_update BEFORE UPDATE ON \(table)
            BEGIN SELECT RAISE(ABORT, '\(table) is append-only: UPDATE refused'); END;

            CREATE TRIGGER \(table)_no_delete BEFORE DELETE ON \(table)
            BEGIN SELECT RAISE(ABORT, '\(table) is append-only: DELETE refused'); END;

            CREATE TRIGGER \(table)_extends_chain BEFORE INSERT ON \(table)
            WHEN NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM \(table)), 0) + 1
              OR NEW.prev_hash IS NOT COALESCE(
                   (SELECT hash FROM \(table) ORDER BY seq DESC LIMIT 1), '\(String(repeating: "0", count: 64))')
            BEGIN SELECT RAISE(ABORT, '\(table): insert does not extend the chain'); END;
            """)
    }
}
