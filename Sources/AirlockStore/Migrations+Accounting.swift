import AirlockCore
import GRDB

extension Migrations {
    /// Issue H: the price table's versions, the reservation history that reserved-capacity
    /// charges are computed from, and `usage_daily`, the ledger summed per day that reports and
    /// the free tier read instead of scanning millions of rows.
    static func createAccounting(_ db: Database) throws {
        try db.execute(sql: """
            -- A version never changes and never goes away, starts after the one before it, and
            -- starts after every ledger row already written: a row is never re-priced.
            CREATE TABLE price_versions (
                version         INTEGER PRIMARY KEY NOT NULL,
                effective_from  INTEGER NOT NULL UNIQUE,
                created_at      INTEGER NOT NULL,
                currency        TEXT NOT NULL,
                document        TEXT NOT NULL,
                CHECK (effective_from > created_at)
            ) STRICT;

            CREATE TRIGGER price_versions_no_update BEFORE UPDATE ON price_versions
            BEGIN SELECT RAISE(ABORT, 'price_versions is append-only: UPDATE refused'); END;
            CREATE TRIGGER price_versions_no_delete BEFORE DELETE ON price_versions
            BEGIN SELECT RAISE(ABORT, 'price_versions is append-only: DELETE refused'); END;
            CREATE TRIGGER price_versions_in_the_future BEFORE INSERT ON price_versions
            WHEN NEW.version IS NOT COALESCE((SELECT max(version) FROM price_versions), 0) + 1
              OR NEW.effective_from <= COALESCE((SELECT max(effective_from) FROM price_versions), -1)
              OR NEW.effective_from <= COALESCE((SELECT max(ts) FROM usage_ledger), -1)
            BEGIN SELECT RAISE(ABORT, 'price_versions: a version must start after the latest version and after every ledger row'); END;
            CREATE TRIGGER price_versions_generation AFTER INSERT ON price_versions
            BEGIN UPDATE tenancy_generation SET value = value + 1 WHERE id = 1; END;

            -- Every change of an org's reserved capacity (insert and update by trigger; a removal,
            -- which has no time of its own, by `setReservation`): capacity-unit hours over any
            -- past period are re-derivable after the reservation itself is gone.
            CREATE TABLE reservation_changes (
                id              INTEGER PRIMARY KEY NOT NULL,
                org_id          TEXT NOT NULL,
                model           TEXT NOT NULL,
                capacity_units  INTEGER NOT NULL CHECK (capacity_units >= 0),
                changed_at      INTEGER NOT NULL
            ) STRICT;
            CREATE INDEX reservation_changes_org ON reservation_changes(org_id, model, changed_at);
            INSERT INTO reservation_changes (org_id, model, capacity_units, changed_at)
                SELECT org_id, model, capacity_units, updated_at FROM reservations ORDER BY updated_at;
            CREATE TRIGGER reservations_history_insert AFTER INSERT ON reservations BEGIN
                INSERT INTO reservation_changes (org_id, model, capacity_units, changed_at)
                VALUES (NEW.org_id, NEW.model, NEW.capacity_units, NEW.updated_at); END;
            CREATE TRIGGER reservations_history_update AFTER UPDATE ON reservations BEGIN
                INSERT INTO reservation_changes (org_id, model, capacity_units, changed_at)
                VALUES (NEW.org_id, NEW.model, NEW.capacity_units, NEW.updated_at); END;
            CREATE TRIGGER reservation_changes_no_update BEFORE UPDATE ON reservation_changes
            BEGIN SELECT RAISE(ABORT, 'reservation_changes is append-only: UPDATE refused'); END;
            CREATE TRIGGER reservation_changes_no_delete BEFORE DELETE ON reservation_changes
            BEGIN SELECT RAISE(ABORT, 'reservation_changes is append-only: DELETE refused'); END;

            -- The ledger summed per UTC day and org, env, key, model and zone, maintained in the
            -- ledger append's own transaction (`UsageDaily`): never ahead of or behind the ledger.
            CREATE TABLE usage_daily (
                day                 INTEGER NOT NULL,
                org_id              TEXT NOT NULL,
                env_id              TEXT NOT NULL,
                key_id              TEXT NOT NULL,
                model               TEXT NOT NULL,
                zone                TEXT NOT NULL,
                requests            INTEGER NOT NULL,
                prompt_tokens       INTEGER NOT NULL,
                completion_tokens   INTEGER NOT NULL,
                total_tokens        INTEGER NOT NULL,
                cost_micros         INTEGER NOT NULL,
                estimated_requests  INTEGER NOT NULL,
                first_seq           INTEGER NOT NULL,
                last_seq            INTEGER NOT NULL,
                PRIMARY KEY (org_id, day, env_id, key_id, model, zone)
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX usage_daily_day ON usage_daily(day);

            -- The same per org and calendar month (`month` = its first day): what the free tier
            -- and the spend guardrails read, one row per org whatever the traffic.
            CREATE TABLE usage_monthly (
                org_id       TEXT NOT NULL,
                month        INTEGER NOT NULL,
                requests     INTEGER NOT NULL,
                total_tokens INTEGER NOT NULL,
                cost_micros  INTEGER NOT NULL,
                PRIMARY KEY (org_id, month)
            ) STRICT, WITHOUT ROWID;

            -- Per-org monthly caps (seed 004 § 42): spend and/or tokens; past the cap the org's
            -- serverless traffic is refused, or only warned about.
            CREATE TABLE org_guardrails (
                org_id               TEXT PRIMARY KEY NOT NULL REFERENCES orgs(id),
                monthly_spend_micros INTEGER CHECK (monthly_spend_micros IS NULL OR monthly_spend_micros > 0),
                monthly_tokens       INTEGER CHECK (monthly_tokens IS NULL OR monthly_tokens > 0),
                on_exceed            TEXT NOT NULL CHECK (on_exceed IN ('refuse', 'warn')),
                updated_at           INTEGER NOT NULL,
                CHECK (monthly_spend_micros IS NOT NULL OR monthly_tokens IS NOT NULL)
            ) STRICT;
            INSERT INTO usage_daily
                SELECT ts / 86400000, org_id, env_id, key_id, model, zone, count(*), sum(prompt_tokens),
                       sum(completion_tokens), sum(total_tokens), sum(cost_micros), sum(token_source = 'estimated'),
                       min(seq), max(seq)
                FROM usage_ledger GROUP BY ts / 86400000, org_id, env_id, key_id, model, zone;
            """)
        // Months from the backfilled days through `UTCCalendar`, the calendar the appender uses.
        let days = try Row.fetchAll(db, sql: "SELECT org_id, day, requests, total_tokens, cost_micros FROM usage_daily")
        var months: [String: (requests: Int64, tokens: Int64, cost: Int64)] = [:]
        for row in days {
            let key = "\(row["org_id"] as String)|\(UTCCalendar.month(containing: row["day"]).lowerBound)"
            let sums = months[key] ?? (0, 0, 0)
            months[key] = (sums.requests + row["requests"], sums.tokens + row["total_tokens"], sums.cost + row["cost_micros"])
        }
        for (key, sums) in months {
            let parts = key.split(separator: "|")
            try db.execute(sql: "INSERT INTO usage_monthly VALUES (?, ?, ?, ?, ?)",
                           arguments: [String(parts[0]), Int64(parts[1])!, sums.requests, sums.tokens, sums.cost])
        }
        for event in ["INSERT", "UPDATE", "DELETE"] {
            try db.execute(sql: """
                CREATE TRIGGER org_guardrails_generation_\(event.lowercased()) AFTER \(event) ON org_guardrails
                BEGIN UPDATE tenancy_generation SET value = value + 1 WHERE id = 1; END;
                """)
        }
    }
}
