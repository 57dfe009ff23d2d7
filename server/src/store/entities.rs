//! sea-orm entities: one module per table.
//!
//! Conventions, so both backends behave the same: ids are UUID text, instants are integer
//! microseconds since the Unix epoch (`*_us`), enums are their stable lower-case names from
//! `onsite-core`, severities and tiers are their level numbers, money is minor units + code.

/// Declares an entity module with an empty relation set; joins are written where needed.
macro_rules! entity {
    ($(#[$doc:meta])* $module:ident, $table:literal { $($body:tt)* }) => {
        $(#[$doc])*
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model { $($body)* }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity!(
    /// People who can sign in.
    user, "users" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub role: String,
        pub engineer_id: Option<String>,
        pub created_at_us: i64,
        /// What the user signs in with; `None` for a user who signs in with tokens only.
        pub login: Option<String>,
    }
);

entity!(
    /// Bearer tokens, stored as SHA-256 hashes only: long-lived API tokens (no session) and
    /// the short-lived access tokens of a session.
    api_token, "api_tokens" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: String,
        #[sea_orm(unique)]
        pub token_hash: String,
        pub label: String,
        pub created_at_us: i64,
        pub revoked_at_us: Option<i64>,
        pub session_id: Option<String>,
        /// The phone the session was opened on, for device-scoped tokens.
        pub device_id: Option<String>,
        pub expires_at_us: Option<i64>,
    }
);

entity!(
    /// Argon2id password hashes in PHC form.
    password, "passwords" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        pub phc: String,
        pub updated_at_us: i64,
    }
);

entity!(
    /// Sign-ins: a family of rotating refresh tokens and the access tokens they gave.
    session, "sessions" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: String,
        pub device_id: Option<String>,
        pub created_at_us: i64,
        pub revoked_at_us: Option<i64>,
        pub revoke_reason: Option<String>,
    }
);

entity!(
    /// Refresh tokens, stored as SHA-256 hashes; each is used once, then replaced.
    refresh_token, "refresh_tokens" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub session_id: String,
        #[sea_orm(unique)]
        pub token_hash: String,
        pub created_at_us: i64,
        pub expires_at_us: i64,
        pub used_at_us: Option<i64>,
        pub successor_id: Option<String>,
    }
);

entity!(
    /// One-time setup and enrolment codes, stored as SHA-256 hashes.
    one_time_code, "one_time_codes" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: String,
        pub purpose: String,
        #[sea_orm(unique)]
        pub code_hash: String,
        pub issued_by: Option<String>,
        pub created_at_us: i64,
        pub expires_at_us: i64,
        pub used_at_us: Option<i64>,
    }
);

entity!(
    /// The security audit log (append-only).
    audit_event, "audit_events" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub at_us: i64,
        pub kind: String,
        pub user_id: Option<String>,
        pub subject: String,
        pub address: String,
        pub detail: String,
    }
);

entity!(
    /// Stored results of mutations, keyed by caller and request id (AIP-155).
    idempotency_key, "idempotency_keys" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub method: String,
        pub request_hash: String,
        pub response: Vec<u8>,
        pub created_at_us: i64,
    }
);

entity!(
    /// The customer archive.
    customer, "customers" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub project_name: String,
        pub project_manager: String,
        pub implementation_staff: String,
        pub contract_signed_on: Option<String>,
        pub implementation_started_on: Option<String>,
        pub accepted_on: Option<String>,
        pub service_started_on: Option<String>,
        pub warranty_start: Option<String>,
        pub warranty_end: Option<String>,
        pub notes: String,
        pub created_at_us: i64,
        pub version: i64,
    }
);

entity!(
    /// A customer's contact persons.
    contact, "customer_contacts" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub customer_id: String,
        pub ordinal: i32,
        pub name: String,
        pub role: String,
        pub phone: String,
        pub email: String,
    }
);

entity!(
    /// A customer's sites.
    site, "customer_sites" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub customer_id: String,
        pub ordinal: i32,
        pub name: String,
        pub address: String,
        pub latitude: f64,
        pub longitude: f64,
    }
);

entity!(
    /// Products installed at a customer's sites.
    product, "installed_products" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub customer_id: String,
        pub site_id: Option<String>,
        pub model: String,
        pub serial_number: String,
        pub installed_on: Option<String>,
        pub warranty_end: Option<String>,
    }
);

entity!(
    /// Field engineers.
    engineer, "engineers" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub employee_number: String,
        pub name: String,
        pub phone: String,
        pub tier: i32,
        /// Skills as `|skill|skill|`, so one LIKE finds a whole skill.
        pub skills: String,
        pub home_latitude: f64,
        pub home_longitude: f64,
        pub status: String,
        pub shift: String,
        /// Days off as comma-separated YYYY-MM-DD.
        pub days_off: String,
        pub last_latitude: Option<f64>,
        pub last_longitude: Option<f64>,
        pub last_position_at_us: Option<i64>,
        pub created_at_us: i64,
        pub version: i64,
    }
);

entity!(
    /// The last serial handed out per day, for ticket numbers.
    ticket_counter, "ticket_counters" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub day: String,
        pub last_serial: i64,
    }
);

entity!(
    /// Service requests.
    ticket, "tickets" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub number: String,
        pub title: String,
        pub channel: String,
        pub category: String,
        pub severity: i32,
        pub tier: i32,
        pub status: String,
        pub customer_id: String,
        pub contact_name: String,
        pub contact_phone: String,
        pub organisation: String,
        pub product_id: Option<String>,
        pub product_model: String,
        pub serial_number: String,
        pub submitted_at_us: i64,
        pub fault_occurred_at_us: Option<i64>,
        pub symptoms: String,
        pub error_message: String,
        pub impact_scope: String,
        pub initial_urgency: String,
        pub root_cause: Option<String>,
        pub resolution_note: String,
        pub respond_by_us: i64,
        pub resolve_by_us: i64,
        pub responded_at_us: Option<i64>,
        pub resolved_at_us: Option<i64>,
        pub response_breach_escalated: bool,
        pub resolution_breach_escalated: bool,
        pub created_by: String,
        pub updated_at_us: i64,
        pub version: i64,
    }
);

entity!(
    /// A ticket's history (append-only).
    ticket_event, "ticket_events" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub ticket_id: String,
        pub action: String,
        pub detail: String,
        pub from_tier: Option<i32>,
        pub to_tier: Option<i32>,
        pub actor_user_id: Option<String>,
        pub at_us: i64,
        pub request_id: String,
    }
);

entity!(
    /// Dispatch slips, one per visit.
    slip, "slips" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub ticket_id: String,
        pub visit_number: i32,
        pub state: String,
        pub engineer_id: Option<String>,
        pub site_id: Option<String>,
        pub instructions: String,
        /// Required skills, newline-separated.
        pub required_skills: String,
        pub follow_up_of: Option<String>,
        pub appointment_start_us: Option<i64>,
        pub appointment_end_us: Option<i64>,
        pub appointment_contact: String,
        pub reschedule_count: i32,
        pub last_reschedule_reason: String,
        pub customer_informed: bool,
        pub arrived_at_us: Option<i64>,
        pub arrived_on_time: bool,
        pub check_in_latitude: Option<f64>,
        pub check_in_longitude: Option<f64>,
        pub backup_kind: Option<String>,
        pub fix_outcome: Option<String>,
        pub signed_off: bool,
        pub decline_reason: String,
        pub cancel_reason: String,
        pub write_off_outcome: Option<String>,
        pub needs_review: bool,
        pub created_by: String,
        pub created_at_us: i64,
        pub updated_at_us: i64,
        pub version: i64,
        /// The last day of the warranty the visit is judged on (ISO date).
        pub warranty_end: Option<String>,
        /// The root cause of the recorded fix.
        pub root_cause: Option<String>,
        /// The quotes' charges and decisions, JSON (see `repo::quotes`).
        pub quote_facts: String,
        /// `installation`, `repair` or `maintenance`.
        pub kind: String,
    }
);

entity!(
    /// Quotes for billable work; the lines are JSON.
    quote, "quotes" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub slip_id: String,
        pub lines: String,
        pub total_minor: i64,
        pub currency: String,
        /// `open`, `accepted` or `rejected`.
        pub state: String,
        pub channel: Option<String>,
        pub decided_by_name: String,
        pub confirmation: String,
        pub recorded_by: Option<String>,
        pub decided_at_us: Option<i64>,
        pub created_by: String,
        pub created_at_us: i64,
        pub version: i64,
        /// For a decision signed on the phone: the seal, as for a sign-off.
        pub signature_png_sha256: String,
        pub content_sha256: String,
        pub content: Option<Vec<u8>>,
        pub device_signature: Option<Vec<u8>>,
        pub device_id: Option<String>,
        pub signature_verified: bool,
    }
);

entity!(
    /// The customer archive's append-only audit trail.
    customer_event, "customer_events" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub customer_id: String,
        pub action: String,
        pub detail: String,
        pub actor_user_id: String,
        pub at_us: i64,
    }
);

entity!(
    /// Follow-ups on unhappy customers.
    follow_up, "follow_ups" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub slip_id: String,
        pub ticket_number: String,
        pub customer_id: String,
        pub customer_name: String,
        pub reason: String,
        pub signer_name: String,
        pub customer_opinion: String,
        pub due_at_us: i64,
        pub created_at_us: i64,
        /// `open` or `closed`.
        pub state: String,
        pub closed_at_us: Option<i64>,
        pub outcome: String,
        pub closed_by: Option<String>,
        pub version: i64,
    }
);

entity!(
    /// The append-only audit log of slip transitions.
    slip_event, "slip_events" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub slip_id: String,
        pub ticket_id: String,
        pub action: String,
        pub from_state: String,
        pub to_state: String,
        pub actor_user_id: String,
        pub actor_role: String,
        pub device_id: Option<String>,
        pub server_time_us: i64,
        pub device_time_us: Option<i64>,
        pub request_id: String,
        pub detail: String,
    }
);

entity!(
    /// Backups, or the customer's waivers.
    backup, "slip_backups" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub slip_id: String,
        pub kind: String,
        pub location: String,
        pub note: String,
        /// Attachment hashes, newline-separated.
        pub attachments: String,
        pub recorded_by: String,
        pub recorded_at_us: i64,
        pub contents: String,
        pub size_bytes: i64,
        pub performed_by: String,
        pub verified: bool,
        /// A waiver's signer and signature image; earlier waivers name only who refused.
        pub waiver_signer: Option<String>,
        pub waiver_png_sha256: Option<String>,
        pub waiver_signed_at_us: Option<i64>,
    }
);

entity!(
    /// Fix records.
    fix, "slip_fixes" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub slip_id: String,
        pub outcome: String,
        pub root_cause: Option<String>,
        pub cause: String,
        pub solution: String,
        pub prevention: String,
        pub time_spent_minutes: i32,
        /// The column keeps its first name, from when it recorded the authorisation alone.
        #[sea_orm(column_name = "data_removal_authorised")]
        pub data_taken_off_site: bool,
        pub attachments: String,
        pub recorded_by: String,
        pub recorded_at_us: i64,
        /// The customer's signed authorisation to take data off site.
        pub custody_scope: Option<String>,
        pub custody_signer: Option<String>,
        pub custody_png_sha256: Option<String>,
        pub custody_signed_at_us: Option<i64>,
    }
);

entity!(
    /// Parts and cost lines.
    cost_line, "slip_cost_lines" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub slip_id: String,
        pub kind: String,
        pub description: String,
        pub part_number: String,
        pub quantity: i32,
        pub unit_price_minor: i64,
        pub currency: String,
        pub billable: bool,
        pub recorded_by: String,
        pub recorded_at_us: i64,
        /// Set when a manager overrode the rule's decision: why.
        pub billable_override_reason: Option<String>,
    }
);

entity!(
    /// The customer's sign-off of a slip.
    sign_off, "slip_sign_offs" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub slip_id: String,
        pub signer_name: String,
        pub satisfaction: Option<String>,
        pub service_quality_rating: i32,
        pub product_rating: i32,
        pub support_rating: i32,
        pub customer_opinion: String,
        pub signature_png: Vec<u8>,
        pub signature_png_sha256: String,
        pub report_content_sha256: String,
        pub device_signature: Vec<u8>,
        pub device_id: String,
        pub signed_at_us: i64,
        pub verified: bool,
        pub recorded_by: String,
        /// The canonical report content that was signed (`onsite_proto::signoff`).
        pub report_content: Option<Vec<u8>>,
    }
);

entity!(
    /// Position fixes reported by engineers' phones; the newest 2,000 per engineer are kept.
    engineer_position, "engineer_positions" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub engineer_id: String,
        pub latitude: f64,
        pub longitude: f64,
        /// Metres; 0 when unknown.
        pub accuracy_m: f64,
        pub device_time_us: i64,
        pub received_at_us: i64,
    }
);

entity!(
    /// The board's change feed: one row per slip or engineer change, in commit order.
    board_event, "board_events" {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub at_us: i64,
        /// `slip`, `engineer` or `ticket` (for replicas only: watchers skip it).
        pub kind: String,
        pub subject_id: String,
        /// Engineers whose dispatch profile the change touches, comma-separated.
        pub engineer_ids: String,
        /// The encoded `onsite.v1.Slip` or `onsite.v1.Engineer` as of the change; empty for a ticket.
        pub payload: Vec<u8>,
    }
);

entity!(
    /// Engineers' devices: one per sign-in on a phone, with its Ed25519 key and op sequence.
    device, "devices" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: String,
        pub engineer_id: Option<String>,
        pub public_key: Vec<u8>,
        pub label: String,
        /// The last `device_seq` applied; the next op must carry this + 1.
        pub last_applied_seq: i64,
        pub registered_at_us: i64,
        pub last_push_at_us: Option<i64>,
        /// Set when a manager cut the phone off.
        pub revoked_at_us: Option<i64>,
        pub revoke_reason: Option<String>,
    }
);

entity!(
    /// The result of every op a device pushed, replayed for duplicates.
    device_op, "device_ops" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub device_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub device_seq: i64,
        pub op_id: String,
        pub slip_id: String,
        /// `applied`, `rejected` or `conflict`.
        pub outcome: String,
        /// The encoded `onsite.v1.OpResult`.
        pub result: Vec<u8>,
        pub applied_at_us: i64,
    }
);

entity!(
    /// Records from devices that could not join their slip's visit; kept for the manager.
    flagged_record, "flagged_records" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub slip_id: String,
        pub op_id: String,
        pub device_id: String,
        pub recorded_by: String,
        pub reason: String,
        /// The encoded `onsite.v1.FlaggedRecord`.
        pub record: Vec<u8>,
        pub received_at_us: i64,
    }
);

entity!(
    /// Content-addressed attachments (signature images, photos), uploaded in chunks.
    attachment, "attachments" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sha256: String,
        pub content_type: String,
        pub total_size: i64,
        pub received: i64,
        /// All bytes arrived and their SHA-256 matched.
        pub complete: bool,
        pub uploaded_by: String,
        pub created_at_us: i64,
    }
);

entity!(
    /// The chunks of an attachment, by offset.
    attachment_chunk, "attachment_chunks" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sha256: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub start_offset: i64,
        pub data: Vec<u8>,
    }
);

entity!(
    /// The parts catalog.
    part, "parts" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub part_number: String,
        pub description: String,
        pub unit_price_minor: i64,
        pub currency: String,
        /// Product lines, one per line; empty for every line.
        pub product_lines: String,
        pub active: bool,
        pub updated_at_us: i64,
    }
);

entity!(
    /// The catalog's version, one row.
    catalog_version, "catalog_version" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub version: i64,
    }
);

entity!(
    /// Archived monthly statistics: each revision of a month's report (append-only).
    monthly_report, "monthly_reports" {
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub month: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub revision: i32,
        pub produced_at_us: i64,
        pub reason: String,
        /// The encoded `MonthlyStatistics`, without the archive's own fields.
        pub figures: Vec<u8>,
        pub sha256: String,
    }
);
