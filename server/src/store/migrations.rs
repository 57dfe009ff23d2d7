//! Schema migrations.
//!
//! Each migration is a fixed list of SQL statements, applied once, in order, inside one
//! transaction together with its row in `onsite_migrations`. A migration is never edited
//! after release: changes come as new migrations, so every earlier schema upgrades the same way.
//! `{blob}` stands for the backend's byte-string type.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::now_us;

/// One schema change.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    /// Statements for both backends.
    pub common: &'static [&'static str],
    /// Statements only for SQLite.
    pub sqlite: &'static [&'static str],
    /// Statements only for PostgreSQL.
    pub postgres: &'static [&'static str],
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        common: &[
            "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
            engineer_id TEXT, created_at_us BIGINT NOT NULL)",
            "CREATE TABLE api_tokens (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id),
            token_hash TEXT NOT NULL UNIQUE, label TEXT NOT NULL, created_at_us BIGINT NOT NULL,
            revoked_at_us BIGINT)",
            "CREATE TABLE idempotency_keys (key TEXT PRIMARY KEY, method TEXT NOT NULL,
            request_hash TEXT NOT NULL, response {blob} NOT NULL, created_at_us BIGINT NOT NULL)",
            "CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT NOT NULL, project_name TEXT NOT NULL,
            project_manager TEXT NOT NULL, implementation_staff TEXT NOT NULL,
            contract_signed_on TEXT, implementation_started_on TEXT, accepted_on TEXT,
            service_started_on TEXT, warranty_start TEXT, warranty_end TEXT, notes TEXT NOT NULL,
            created_at_us BIGINT NOT NULL, version BIGINT NOT NULL)",
            "CREATE INDEX customers_by_name ON customers (name, id)",
            "CREATE TABLE customer_contacts (id TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id), ordinal INTEGER NOT NULL,
            name TEXT NOT NULL, role TEXT NOT NULL, phone TEXT NOT NULL, email TEXT NOT NULL)",
            "CREATE INDEX contacts_by_customer ON customer_contacts (customer_id, ordinal)",
            "CREATE TABLE customer_sites (id TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id), ordinal INTEGER NOT NULL,
            name TEXT NOT NULL, address TEXT NOT NULL, latitude DOUBLE PRECISION NOT NULL,
            longitude DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX sites_by_customer ON customer_sites (customer_id, ordinal)",
            "CREATE TABLE installed_products (id TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id), site_id TEXT REFERENCES customer_sites(id),
            model TEXT NOT NULL, serial_number TEXT NOT NULL, installed_on TEXT, warranty_end TEXT)",
            "CREATE INDEX products_by_customer ON installed_products (customer_id, serial_number)",
            "CREATE TABLE engineers (id TEXT PRIMARY KEY, employee_number TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL, phone TEXT NOT NULL, tier INTEGER NOT NULL, skills TEXT NOT NULL,
            home_latitude DOUBLE PRECISION NOT NULL, home_longitude DOUBLE PRECISION NOT NULL,
            status TEXT NOT NULL, shift TEXT NOT NULL, days_off TEXT NOT NULL,
            last_latitude DOUBLE PRECISION, last_longitude DOUBLE PRECISION,
            last_position_at_us BIGINT, created_at_us BIGINT NOT NULL, version BIGINT NOT NULL)",
            "CREATE TABLE ticket_counters (day TEXT PRIMARY KEY, last_serial BIGINT NOT NULL)",
            "CREATE TABLE tickets (id TEXT PRIMARY KEY, number TEXT NOT NULL UNIQUE, title TEXT NOT NULL,
            channel TEXT NOT NULL, category TEXT NOT NULL, severity INTEGER NOT NULL,
            tier INTEGER NOT NULL, status TEXT NOT NULL,
            customer_id TEXT NOT NULL REFERENCES customers(id), contact_name TEXT NOT NULL,
            contact_phone TEXT NOT NULL, organisation TEXT NOT NULL,
            product_id TEXT REFERENCES installed_products(id), product_model TEXT NOT NULL,
            serial_number TEXT NOT NULL, submitted_at_us BIGINT NOT NULL,
            fault_occurred_at_us BIGINT, symptoms TEXT NOT NULL, error_message TEXT NOT NULL,
            impact_scope TEXT NOT NULL, initial_urgency TEXT NOT NULL, root_cause TEXT,
            resolution_note TEXT NOT NULL, respond_by_us BIGINT NOT NULL,
            resolve_by_us BIGINT NOT NULL, responded_at_us BIGINT, resolved_at_us BIGINT,
            response_breach_escalated BOOLEAN NOT NULL, resolution_breach_escalated BOOLEAN NOT NULL,
            created_by TEXT NOT NULL, updated_at_us BIGINT NOT NULL, version BIGINT NOT NULL)",
            "CREATE INDEX tickets_by_status ON tickets (status, id)",
            "CREATE INDEX tickets_by_customer ON tickets (customer_id, id)",
            "CREATE INDEX tickets_open_sla ON tickets (resolved_at_us, resolve_by_us)",
            "CREATE TABLE ticket_events (id TEXT PRIMARY KEY, ticket_id TEXT NOT NULL REFERENCES tickets(id),
            action TEXT NOT NULL, detail TEXT NOT NULL, from_tier INTEGER, to_tier INTEGER,
            actor_user_id TEXT, at_us BIGINT NOT NULL, request_id TEXT NOT NULL)",
            "CREATE INDEX ticket_events_by_ticket ON ticket_events (ticket_id, id)",
            "CREATE TABLE slips (id TEXT PRIMARY KEY, ticket_id TEXT NOT NULL REFERENCES tickets(id),
            visit_number INTEGER NOT NULL, state TEXT NOT NULL, engineer_id TEXT REFERENCES engineers(id),
            site_id TEXT REFERENCES customer_sites(id), instructions TEXT NOT NULL,
            required_skills TEXT NOT NULL, follow_up_of TEXT REFERENCES slips(id),
            appointment_start_us BIGINT, appointment_end_us BIGINT, appointment_contact TEXT NOT NULL,
            reschedule_count INTEGER NOT NULL, last_reschedule_reason TEXT NOT NULL,
            customer_informed BOOLEAN NOT NULL, arrived_at_us BIGINT, arrived_on_time BOOLEAN NOT NULL,
            check_in_latitude DOUBLE PRECISION, check_in_longitude DOUBLE PRECISION,
            backup_kind TEXT, fix_outcome TEXT, signed_off BOOLEAN NOT NULL,
            decline_reason TEXT NOT NULL, cancel_reason TEXT NOT NULL, write_off_outcome TEXT,
            needs_review BOOLEAN NOT NULL, created_by TEXT NOT NULL, created_at_us BIGINT NOT NULL,
            updated_at_us BIGINT NOT NULL, version BIGINT NOT NULL,
            UNIQUE (ticket_id, visit_number))",
            "CREATE INDEX slips_by_engineer ON slips (engineer_id, state)",
            "CREATE INDEX slips_by_state ON slips (state, id)",
            "CREATE TABLE slip_events (id TEXT PRIMARY KEY, slip_id TEXT NOT NULL REFERENCES slips(id),
            ticket_id TEXT NOT NULL, action TEXT NOT NULL, from_state TEXT NOT NULL,
            to_state TEXT NOT NULL, actor_user_id TEXT NOT NULL, actor_role TEXT NOT NULL,
            device_id TEXT, server_time_us BIGINT NOT NULL, device_time_us BIGINT,
            request_id TEXT NOT NULL, detail TEXT NOT NULL)",
            "CREATE INDEX slip_events_by_slip ON slip_events (slip_id, id)",
            "CREATE TABLE slip_backups (id TEXT PRIMARY KEY, slip_id TEXT NOT NULL REFERENCES slips(id),
            kind TEXT NOT NULL, location TEXT NOT NULL, note TEXT NOT NULL, attachments TEXT NOT NULL,
            recorded_by TEXT NOT NULL, recorded_at_us BIGINT NOT NULL)",
            "CREATE INDEX backups_by_slip ON slip_backups (slip_id)",
            "CREATE TABLE slip_fixes (id TEXT PRIMARY KEY, slip_id TEXT NOT NULL REFERENCES slips(id),
            outcome TEXT NOT NULL, root_cause TEXT, cause TEXT NOT NULL, solution TEXT NOT NULL,
            prevention TEXT NOT NULL, time_spent_minutes INTEGER NOT NULL,
            data_removal_authorised BOOLEAN NOT NULL, attachments TEXT NOT NULL,
            recorded_by TEXT NOT NULL, recorded_at_us BIGINT NOT NULL)",
            "CREATE INDEX fixes_by_slip ON slip_fixes (slip_id)",
            "CREATE TABLE slip_cost_lines (id TEXT PRIMARY KEY, slip_id TEXT NOT NULL REFERENCES slips(id),
            kind TEXT NOT NULL, description TEXT NOT NULL, part_number TEXT NOT NULL,
            quantity INTEGER NOT NULL, unit_price_minor BIGINT NOT NULL, currency TEXT NOT NULL,
            billable BOOLEAN NOT NULL, recorded_by TEXT NOT NULL, recorded_at_us BIGINT NOT NULL)",
            "CREATE INDEX cost_lines_by_slip ON slip_cost_lines (slip_id)",
            "CREATE TABLE slip_sign_offs (slip_id TEXT PRIMARY KEY REFERENCES slips(id),
            signer_name TEXT NOT NULL, satisfaction TEXT, service_quality_rating INTEGER NOT NULL,
            product_rating INTEGER NOT NULL, support_rating INTEGER NOT NULL,
            customer_opinion TEXT NOT NULL, signature_png {blob} NOT NULL,
            signature_png_sha256 TEXT NOT NULL, report_content_sha256 TEXT NOT NULL,
            device_signature {blob} NOT NULL, device_id TEXT NOT NULL, signed_at_us BIGINT NOT NULL,
            verified BOOLEAN NOT NULL, recorded_by TEXT NOT NULL)",
        ],
        sqlite: &[
            "CREATE TRIGGER slip_events_no_update BEFORE UPDATE ON slip_events
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
            "CREATE TRIGGER slip_events_no_delete BEFORE DELETE ON slip_events
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
            "CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
            "CREATE TRIGGER ticket_events_no_delete BEFORE DELETE ON ticket_events
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        ],
        postgres: &[
            "CREATE FUNCTION onsite_append_only() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
            "CREATE TRIGGER slip_events_append_only BEFORE UPDATE OR DELETE ON slip_events
            FOR EACH ROW EXECUTE FUNCTION onsite_append_only()",
            "CREATE TRIGGER ticket_events_append_only BEFORE UPDATE OR DELETE ON ticket_events
            FOR EACH ROW EXECUTE FUNCTION onsite_append_only()",
        ],
    },
    Migration {
        version: 2,
        name: "dispatch",
        common: &[
            "CREATE TABLE engineer_positions (id TEXT PRIMARY KEY,
                engineer_id TEXT NOT NULL REFERENCES engineers(id), latitude DOUBLE PRECISION NOT NULL,
                longitude DOUBLE PRECISION NOT NULL, accuracy_m DOUBLE PRECISION NOT NULL,
                device_time_us BIGINT NOT NULL, received_at_us BIGINT NOT NULL)",
            "CREATE INDEX positions_by_engineer ON engineer_positions (engineer_id, device_time_us, id)",
            "CREATE INDEX slips_by_appointment ON slips (engineer_id, appointment_start_us)",
        ],
        // The board's change feed: `seq` orders events in commit order (see repo::board).
        sqlite: &["CREATE TABLE board_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at_us BIGINT NOT NULL,
            kind TEXT NOT NULL, subject_id TEXT NOT NULL, engineer_ids TEXT NOT NULL, payload BLOB NOT NULL)"],
        postgres: &["CREATE TABLE board_events (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            at_us BIGINT NOT NULL, kind TEXT NOT NULL, subject_id TEXT NOT NULL, engineer_ids TEXT NOT NULL,
            payload BYTEA NOT NULL)"],
    },
    Migration {
        version: 3,
        name: "sync",
        common: &[
            // A device is one sign-in of an engineer on a phone, with its own key and op sequence.
            "CREATE TABLE devices (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id),
                engineer_id TEXT, public_key {blob} NOT NULL, label TEXT NOT NULL,
                last_applied_seq BIGINT NOT NULL, registered_at_us BIGINT NOT NULL,
                last_push_at_us BIGINT)",
            // The stored result of every op a device pushed, for exactly-once replies.
            "CREATE TABLE device_ops (device_id TEXT NOT NULL REFERENCES devices(id),
                device_seq BIGINT NOT NULL, op_id TEXT NOT NULL, slip_id TEXT NOT NULL,
                outcome TEXT NOT NULL, result {blob} NOT NULL, applied_at_us BIGINT NOT NULL,
                PRIMARY KEY (device_id, device_seq))",
            "CREATE TABLE flagged_records (id TEXT PRIMARY KEY, slip_id TEXT NOT NULL REFERENCES slips(id),
                op_id TEXT NOT NULL, device_id TEXT NOT NULL, recorded_by TEXT NOT NULL,
                reason TEXT NOT NULL, record {blob} NOT NULL, received_at_us BIGINT NOT NULL)",
            "CREATE INDEX flagged_by_slip ON flagged_records (slip_id, received_at_us)",
            "CREATE TABLE attachments (sha256 TEXT PRIMARY KEY, content_type TEXT NOT NULL,
                total_size BIGINT NOT NULL, received BIGINT NOT NULL, complete BOOLEAN NOT NULL,
                uploaded_by TEXT NOT NULL, created_at_us BIGINT NOT NULL)",
            "CREATE TABLE attachment_chunks (sha256 TEXT NOT NULL REFERENCES attachments(sha256),
                start_offset BIGINT NOT NULL, data {blob} NOT NULL, PRIMARY KEY (sha256, start_offset))",
            "ALTER TABLE slip_sign_offs ADD COLUMN report_content {blob}",
            "CREATE TABLE parts (part_number TEXT PRIMARY KEY, description TEXT NOT NULL,
                unit_price_minor BIGINT NOT NULL, currency TEXT NOT NULL, product_lines TEXT NOT NULL,
                active BOOLEAN NOT NULL, updated_at_us BIGINT NOT NULL)",
            // One row; upserts of parts bump it under its row lock, so devices see every change.
            "CREATE TABLE catalog_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)",
            "INSERT INTO catalog_version (id, version) VALUES (1, 0)",
        ],
        sqlite: &[],
        postgres: &[],
    },
    Migration {
        version: 4,
        name: "slip_assignments",
        common: &[
            // Every engineer a slip was ever assigned to: a displaced engineer's late records are
            // kept for the manager; an engineer the slip never knew learns nothing of it.
            "CREATE TABLE slip_assignments (slip_id TEXT NOT NULL REFERENCES slips(id),
                engineer_id TEXT NOT NULL, assigned_at_us BIGINT NOT NULL,
                PRIMARY KEY (slip_id, engineer_id))",
            "INSERT INTO slip_assignments (slip_id, engineer_id, assigned_at_us)
                SELECT slip_id, engineer_id, MIN(server_time_us) FROM (
                    SELECT slip_id, server_time_us, CASE
                        WHEN detail LIKE 'to engineer %' THEN SUBSTR(detail, 13, 36)
                        ELSE SUBSTR(detail, 27, 36) END AS engineer_id
                    FROM slip_events WHERE action = 'dispatch'
                        AND (detail LIKE 'to engineer %' OR detail LIKE 'auto-assigned to engineer %')
                ) AS dispatched
                WHERE engineer_id IN (SELECT id FROM engineers)
                GROUP BY slip_id, engineer_id",
            "INSERT INTO slip_assignments (slip_id, engineer_id, assigned_at_us)
                SELECT id, engineer_id, updated_at_us FROM slips WHERE engineer_id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM slip_assignments a
                    WHERE a.slip_id = slips.id AND a.engineer_id = slips.engineer_id)",
        ],
        sqlite: &[],
        postgres: &[],
    },
    Migration {
        version: 5,
        name: "device_revocation",
        common: &[
            // A revoked phone's ops are refused and their records kept flagged.
            "ALTER TABLE devices ADD COLUMN revoked_at_us BIGINT",
            "ALTER TABLE devices ADD COLUMN revoke_reason TEXT",
        ],
        sqlite: &[],
        postgres: &[],
    },
    Migration {
        version: 6,
        name: "sign_in",
        common: &[
            "ALTER TABLE users ADD COLUMN login TEXT",
            "CREATE UNIQUE INDEX users_by_login ON users (login)",
            // The first-start administrator signs in as `admin`.
            "UPDATE users SET login = 'admin' WHERE id = (SELECT id FROM users WHERE role = 'admin'
                ORDER BY created_at_us, id LIMIT 1)",
            // Argon2id hashes in PHC form; never the password.
            "CREATE TABLE passwords (user_id TEXT PRIMARY KEY REFERENCES users(id), phc TEXT NOT NULL,
                updated_at_us BIGINT NOT NULL)",
            // A sign-in: its refresh tokens rotate within it, and ending it ends its access tokens.
            "CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id),
                device_id TEXT, created_at_us BIGINT NOT NULL, revoked_at_us BIGINT, revoke_reason TEXT)",
            "CREATE TABLE refresh_tokens (id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id),
                token_hash TEXT NOT NULL UNIQUE, created_at_us BIGINT NOT NULL, expires_at_us BIGINT NOT NULL,
                used_at_us BIGINT, successor_id TEXT)",
            // Access tokens live with the API tokens, so one lookup authenticates either.
            "ALTER TABLE api_tokens ADD COLUMN session_id TEXT",
            "ALTER TABLE api_tokens ADD COLUMN device_id TEXT",
            "ALTER TABLE api_tokens ADD COLUMN expires_at_us BIGINT",
            "CREATE INDEX api_tokens_by_session ON api_tokens (session_id)",
            "CREATE TABLE one_time_codes (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id),
                purpose TEXT NOT NULL, code_hash TEXT NOT NULL UNIQUE, issued_by TEXT,
                created_at_us BIGINT NOT NULL, expires_at_us BIGINT NOT NULL, used_at_us BIGINT)",
            "CREATE TABLE audit_events (id TEXT PRIMARY KEY, at_us BIGINT NOT NULL, kind TEXT NOT NULL,
                user_id TEXT, subject TEXT NOT NULL, address TEXT NOT NULL, detail TEXT NOT NULL)",
            "CREATE INDEX audit_events_by_time ON audit_events (at_us, id)",
        ],
        sqlite: &[
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
            "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        ],
        postgres: &["CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
            FOR EACH ROW EXECUTE FUNCTION onsite_append_only()"],
    },
    Migration {
        version: 7,
        name: "service_loop",
        common: &[
            // The facts who pays is decided on (onsite_core::warranty), kept on the slip so a push
            // decides in memory: the warranty's last day, the fix's root cause, and its quotes'
            // charges and decisions (JSON).
            "ALTER TABLE slips ADD COLUMN warranty_end TEXT",
            "ALTER TABLE slips ADD COLUMN root_cause TEXT",
            "ALTER TABLE slips ADD COLUMN quote_facts TEXT NOT NULL DEFAULT '[]'",
            "UPDATE slips SET warranty_end = COALESCE(
                (SELECT p.warranty_end FROM tickets t JOIN installed_products p ON p.id = t.product_id
                    WHERE t.id = slips.ticket_id),
                (SELECT c.warranty_end FROM tickets t JOIN customers c ON c.id = t.customer_id
                    WHERE t.id = slips.ticket_id))",
            "UPDATE slips SET root_cause = (SELECT f.root_cause FROM slip_fixes f WHERE f.slip_id = slips.id
                ORDER BY f.recorded_at_us DESC, f.id DESC LIMIT 1)",
            "CREATE TABLE quotes (id TEXT PRIMARY KEY, slip_id TEXT NOT NULL REFERENCES slips(id),
                lines TEXT NOT NULL, total_minor BIGINT NOT NULL, currency TEXT NOT NULL, state TEXT NOT NULL,
                channel TEXT, decided_by_name TEXT NOT NULL, confirmation TEXT NOT NULL, recorded_by TEXT,
                decided_at_us BIGINT, created_by TEXT NOT NULL, created_at_us BIGINT NOT NULL,
                version BIGINT NOT NULL, signature_png_sha256 TEXT NOT NULL DEFAULT '',
                content_sha256 TEXT NOT NULL DEFAULT '', content {blob}, device_signature {blob},
                device_id TEXT, signature_verified BOOLEAN NOT NULL DEFAULT FALSE)",
            "CREATE INDEX quotes_by_slip ON quotes (slip_id, id)",
            // What a visit is for; earlier slips were repairs.
            "ALTER TABLE slips ADD COLUMN kind TEXT NOT NULL DEFAULT 'repair'",
            // Follow-ups on unhappy customers, open ones listed first by due time.
            "CREATE TABLE follow_ups (id TEXT PRIMARY KEY, slip_id TEXT NOT NULL REFERENCES slips(id),
                ticket_number TEXT NOT NULL, customer_id TEXT NOT NULL, customer_name TEXT NOT NULL,
                reason TEXT NOT NULL, signer_name TEXT NOT NULL, customer_opinion TEXT NOT NULL,
                due_at_us BIGINT NOT NULL, created_at_us BIGINT NOT NULL, state TEXT NOT NULL,
                closed_at_us BIGINT, outcome TEXT NOT NULL, closed_by TEXT, version BIGINT NOT NULL)",
            "CREATE INDEX follow_ups_by_state ON follow_ups (state, due_at_us, id)",
            // The customer archive's audit trail (append-only, see the triggers).
            "CREATE TABLE customer_events (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id),
                action TEXT NOT NULL, detail TEXT NOT NULL, actor_user_id TEXT NOT NULL, at_us BIGINT NOT NULL)",
            "CREATE INDEX customer_events_by_customer ON customer_events (customer_id, id)",
            // A manager's override of a line's billable decision, and why.
            "ALTER TABLE slip_cost_lines ADD COLUMN billable_override_reason TEXT",
        ],
        sqlite: &[
            "CREATE TRIGGER customer_events_no_update BEFORE UPDATE ON customer_events
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
            "CREATE TRIGGER customer_events_no_delete BEFORE DELETE ON customer_events
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        ],
        postgres: &["CREATE TRIGGER customer_events_append_only BEFORE UPDATE OR DELETE ON customer_events
            FOR EACH ROW EXECUTE FUNCTION onsite_append_only()"],
    },
    Migration {
        version: 8,
        name: "backup_and_custody",
        common: &[
            // What a backup saved, where, how much, who made it and whether it was checked.
            "ALTER TABLE slip_backups ADD COLUMN contents TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE slip_backups ADD COLUMN size_bytes BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE slip_backups ADD COLUMN performed_by TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE slip_backups ADD COLUMN verified BOOLEAN NOT NULL DEFAULT FALSE",
            // A waiver's signature. Earlier waivers named who refused in the location.
            "ALTER TABLE slip_backups ADD COLUMN waiver_signer TEXT",
            "ALTER TABLE slip_backups ADD COLUMN waiver_png_sha256 TEXT",
            "ALTER TABLE slip_backups ADD COLUMN waiver_signed_at_us BIGINT",
            "UPDATE slip_backups SET waiver_signer = location WHERE kind = 'waiver'",
            // The customer's signed authorisation to take data off site.
            "ALTER TABLE slip_fixes ADD COLUMN custody_scope TEXT",
            "ALTER TABLE slip_fixes ADD COLUMN custody_signer TEXT",
            "ALTER TABLE slip_fixes ADD COLUMN custody_png_sha256 TEXT",
            "ALTER TABLE slip_fixes ADD COLUMN custody_signed_at_us BIGINT",
        ],
        sqlite: &[],
        postgres: &[],
    },
    Migration {
        version: 9,
        name: "monthly_reports",
        common: &[
            // Each month's report as archived, and every later revision (append-only).
            "CREATE TABLE monthly_reports (year INTEGER NOT NULL, month INTEGER NOT NULL, revision INTEGER NOT NULL,
                produced_at_us BIGINT NOT NULL, reason TEXT NOT NULL, figures {blob} NOT NULL, sha256 TEXT NOT NULL,
                PRIMARY KEY (year, month, revision))",
        ],
        sqlite: &[
            "CREATE TRIGGER monthly_reports_no_update BEFORE UPDATE ON monthly_reports
            BEGIN SELECT RAISE(ABORT, 'the report archive is append-only'); END",
            "CREATE TRIGGER monthly_reports_no_delete BEFORE DELETE ON monthly_reports
            BEGIN SELECT RAISE(ABORT, 'the report archive is append-only'); END",
        ],
        postgres: &["CREATE TRIGGER monthly_reports_append_only BEFORE UPDATE OR DELETE ON monthly_reports
            FOR EACH ROW EXECUTE FUNCTION onsite_append_only()"],
    },
];

/// Any value; PostgreSQL serialises concurrent migrators of several replicas on it.
const MIGRATION_LOCK: i64 = 0x6f6e_7369_7465;

/// Brings the schema up to the newest version. Returns how many migrations ran.
pub async fn migrate(db: &DatabaseConnection) -> Result<usize, sea_orm::DbErr> {
    migrate_to(db, MIGRATIONS).await
}

/// Applies the pending migrations of `migrations` (used by the upgrade tests).
pub async fn migrate_to(db: &DatabaseConnection, migrations: &[Migration]) -> Result<usize, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS onsite_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL,
            applied_at_us BIGINT NOT NULL)",
    )
    .await?;
    let txn = super::begin_write(db).await?;
    if backend == DbBackend::Postgres {
        txn.execute_raw(Statement::from_string(backend, format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")))
            .await?;
    }
    let current = txn
        .query_one_raw(Statement::from_string(backend, "SELECT MAX(version) AS v FROM onsite_migrations"))
        .await?
        .and_then(|row| row.try_get::<Option<i64>>("", "v").ok().flatten())
        .unwrap_or(0);
    let mut applied = 0;
    for m in migrations.iter().filter(|m| m.version > current) {
        let only = if backend == DbBackend::Postgres { m.postgres } else { m.sqlite };
        for sql in m.common.iter().chain(only) {
            let blob = if backend == DbBackend::Postgres { "BYTEA" } else { "BLOB" };
            txn.execute_unprepared(&sql.replace("{blob}", blob)).await?;
        }
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                DbBackend::Postgres => "INSERT INTO onsite_migrations VALUES ($1, $2, $3)",
                _ => "INSERT INTO onsite_migrations VALUES (?, ?, ?)",
            },
            [m.version.into(), m.name.into(), now_us().into()],
        ))
        .await?;
        applied += 1;
    }
    txn.commit().await?;
    Ok(applied)
}

/// The newest schema version in the database (0 when empty).
pub async fn current_version(db: &DatabaseConnection) -> Result<i64, sea_orm::DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT MAX(version) AS v FROM onsite_migrations",
        ))
        .await?;
    Ok(row.and_then(|r| r.try_get::<Option<i64>>("", "v").ok().flatten()).unwrap_or(0))
}
