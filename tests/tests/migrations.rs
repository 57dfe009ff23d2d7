//! Upgrades from every earlier schema: a database is built at each released version with
//! data of that version in it, migrated to the newest, and served. The data must read back
//! through the API as it was written, and the newer features must work on it.

use onsite_proto::v1 as pb;
use onsite_server::store::{self, entities::*, migrations};
use onsite_tests::{Backend, TestServer, authed, request_id};
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, DatabaseConnection, EntityTrait, Statement};

onsite_tests::conformance!(every_earlier_schema_upgrades_with_its_data);

const MANAGER_TOKEN: &str = "manager-token-of-an-old-release";
const ENGINEER_TOKEN: &str = "engineer-token-of-an-old-release";
const SLIP: &str = "01936a00-0000-7000-8000-000000000005";
const DISPATCHED: &str = "01936a00-0000-7000-8000-000000000006";
const TICKET: &str = "01936a00-0000-7000-8000-000000000004";
const ENGINEER: &str = "01936a00-0000-7000-8000-000000000003";
const NOW_US: i64 = 1_764_000_000_000_000;

/// A fresh, empty database of `backend`; the guard keeps a SQLite file alive.
async fn empty_database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            (store::sqlite_url(dir.path()), Some(dir))
        }
        Backend::Postgres => {
            let cluster = onsite_tests::pg::cluster().unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
            (cluster.create_database().await, None)
        }
    }
}

async fn insert<A: sea_orm::ActiveModelTrait>(db: &DatabaseConnection, row: A) {
    <A::Entity as EntityTrait>::insert(row).exec(db).await.unwrap_or_else(|e| panic!("seed: {e}"));
}

/// What a release of schema version 1 held: people and tokens, a customer with a contact, a
/// site and a product, an engineer, a ticket with its history, a completed visit with every
/// record, and a dispatched slip.
async fn seed_version_1(db: &DatabaseConnection) {
    let id = |n: u32| format!("01936a00-0000-7000-8000-{n:012}");
    for (uid, name, role, engineer, token) in [
        (id(1), "Desk", "manager", None, MANAGER_TOKEN),
        (id(2), "Wang Lei", "engineer", Some(ENGINEER.to_owned()), ENGINEER_TOKEN),
    ] {
        let user = user::Model {
            id: uid.clone(),
            name: name.into(),
            role: role.into(),
            engineer_id: engineer,
            created_at_us: NOW_US,
            login: None,
        };
        // Version 1 had no logins, sessions or expiring tokens.
        insert(db, user::ActiveModel { login: NotSet, ..user.into() }).await;
        let token = api_token::Model {
            id: format!("{uid}-t"),
            user_id: uid,
            token_hash: onsite_server::auth::tokens::hash_token(token),
            label: "old release".into(),
            created_at_us: NOW_US,
            revoked_at_us: None,
            session_id: None,
            device_id: None,
            expires_at_us: None,
        };
        insert(
            db,
            api_token::ActiveModel { session_id: NotSet, device_id: NotSet, expires_at_us: NotSet, ..token.into() },
        )
        .await;
    }
    let customer = customer::Model {
        id: id(10),
        name: "Pudong Payroll Ltd".into(),
        project_name: "Payroll".into(),
        project_manager: "Ms. Zhou".into(),
        implementation_staff: "Li Na".into(),
        contract_signed_on: Some("2025-01-10".into()),
        implementation_started_on: None,
        accepted_on: None,
        service_started_on: Some("2025-03-01".into()),
        warranty_start: Some("2025-03-01".into()),
        warranty_end: Some("2027-03-01".into()),
        notes: String::new(),
        created_at_us: NOW_US,
        version: 1,
    };
    insert(db, customer::ActiveModel::from(customer)).await;
    let contact = contact::Model {
        id: id(11),
        customer_id: id(10),
        ordinal: 0,
        name: "Ms. Zhou".into(),
        role: "IT lead".into(),
        phone: "+86 21 5555 0100".into(),
        email: String::new(),
    };
    insert(db, contact::ActiveModel::from(contact)).await;
    let site = site::Model {
        id: id(12),
        customer_id: id(10),
        ordinal: 0,
        name: "Head office".into(),
        address: "88 Century Avenue".into(),
        latitude: 31.2046,
        longitude: 121.5996,
    };
    insert(db, site::ActiveModel::from(site)).await;
    let product = product::Model {
        id: id(13),
        customer_id: id(10),
        site_id: Some(id(12)),
        model: "S2".into(),
        serial_number: "S2-01000".into(),
        installed_on: None,
        warranty_end: Some("2027-03-01".into()),
    };
    insert(db, product::ActiveModel::from(product)).await;
    let engineer = engineer::Model {
        id: ENGINEER.into(),
        employee_number: "17".into(),
        name: "Wang Lei".into(),
        phone: String::new(),
        tier: 2,
        skills: "|payroll|".into(),
        home_latitude: 31.23,
        home_longitude: 121.47,
        status: "available".into(),
        shift: "Mon-Fri 08:30-17:30".into(),
        days_off: String::new(),
        last_latitude: None,
        last_longitude: None,
        last_position_at_us: None,
        created_at_us: NOW_US,
        version: 1,
    };
    insert(db, engineer::ActiveModel::from(engineer)).await;
    let ticket = ticket::Model {
        id: TICKET.into(),
        number: "TS20251124-0001".into(),
        title: "Payroll run hangs".into(),
        channel: "hotline".into(),
        category: "bug".into(),
        severity: 2,
        tier: 2,
        status: "in_progress".into(),
        customer_id: id(10),
        contact_name: "Ms. Zhou".into(),
        contact_phone: String::new(),
        organisation: String::new(),
        product_id: Some(id(13)),
        product_model: "S2".into(),
        serial_number: "S2-01000".into(),
        submitted_at_us: NOW_US,
        fault_occurred_at_us: None,
        symptoms: "The monthly run stops at 40 %".into(),
        error_message: String::new(),
        impact_scope: "All staff".into(),
        initial_urgency: String::new(),
        root_cause: None,
        resolution_note: String::new(),
        respond_by_us: NOW_US + 4 * 3_600_000_000,
        resolve_by_us: NOW_US + 24 * 3_600_000_000,
        responded_at_us: Some(NOW_US),
        resolved_at_us: None,
        response_breach_escalated: false,
        resolution_breach_escalated: false,
        created_by: id(1),
        updated_at_us: NOW_US,
        version: 2,
    };
    insert(db, ticket::ActiveModel::from(ticket)).await;
    let event = ticket_event::Model {
        id: id(14),
        ticket_id: TICKET.into(),
        action: "created".into(),
        detail: "taken in by hotline".into(),
        from_tier: None,
        to_tier: None,
        actor_user_id: Some(id(1)),
        at_us: NOW_US,
        request_id: String::new(),
    };
    insert(db, ticket_event::ActiveModel::from(event)).await;
    let slip = |slip_id: &str, visit, state: &str, done: bool| slip::Model {
        id: slip_id.into(),
        ticket_id: TICKET.into(),
        visit_number: visit,
        state: state.into(),
        engineer_id: Some(ENGINEER.into()),
        site_id: Some(id(12)),
        instructions: "Back up first".into(),
        required_skills: "payroll".into(),
        follow_up_of: None,
        appointment_start_us: done.then_some(NOW_US + 3_600_000_000),
        appointment_end_us: done.then_some(NOW_US + 3 * 3_600_000_000),
        appointment_contact: if done { "Ms. Zhou".into() } else { String::new() },
        reschedule_count: 0,
        last_reschedule_reason: String::new(),
        customer_informed: false,
        arrived_at_us: done.then_some(NOW_US + 3_600_000_000),
        arrived_on_time: done,
        check_in_latitude: done.then_some(31.2046),
        check_in_longitude: done.then_some(121.5996),
        backup_kind: done.then(|| "backup".into()),
        fix_outcome: done.then(|| "resolved".into()),
        signed_off: done,
        decline_reason: String::new(),
        cancel_reason: String::new(),
        write_off_outcome: None,
        needs_review: false,
        created_by: id(1),
        created_at_us: NOW_US,
        updated_at_us: NOW_US,
        version: if done { 9 } else { 3 },
        warranty_end: None,
        root_cause: None,
        quote_facts: String::new(),
        kind: String::new(),
    };
    // Version 1 knew nothing of warranties and quotes on the slip.
    let old = |m: slip::Model| slip::ActiveModel {
        warranty_end: NotSet,
        root_cause: NotSet,
        quote_facts: NotSet,
        kind: NotSet,
        ..m.into()
    };
    insert(db, old(slip(SLIP, 1, "completed", true))).await;
    insert(db, old(slip(DISPATCHED, 2, "dispatched", false))).await;
    let audit = slip_event::Model {
        id: id(20),
        slip_id: SLIP.into(),
        ticket_id: TICKET.into(),
        action: "complete".into(),
        from_state: "on_site".into(),
        to_state: "completed".into(),
        actor_user_id: id(2),
        actor_role: "engineer".into(),
        device_id: None,
        server_time_us: NOW_US,
        device_time_us: None,
        request_id: String::new(),
        detail: String::new(),
    };
    insert(db, slip_event::ActiveModel::from(audit)).await;
    let backup = backup::Model {
        id: id(21),
        slip_id: SLIP.into(),
        kind: "backup".into(),
        location: "USB disk SN 4471".into(),
        note: String::new(),
        attachments: String::new(),
        recorded_by: id(2),
        recorded_at_us: NOW_US,
        contents: String::new(),
        size_bytes: 0,
        performed_by: String::new(),
        verified: false,
        waiver_signer: None,
        waiver_png_sha256: None,
        waiver_signed_at_us: None,
    };
    insert(
        db,
        backup::ActiveModel {
            contents: NotSet,
            size_bytes: NotSet,
            performed_by: NotSet,
            verified: NotSet,
            waiver_signer: NotSet,
            waiver_png_sha256: NotSet,
            waiver_signed_at_us: NotSet,
            ..backup.into()
        },
    )
    .await;
    let fix = fix::Model {
        id: id(22),
        slip_id: SLIP.into(),
        outcome: "resolved".into(),
        root_cause: Some("software_defect".into()),
        cause: "Lock order".into(),
        solution: "Patched the batch job".into(),
        prevention: String::new(),
        time_spent_minutes: 95,
        data_taken_off_site: false,
        attachments: String::new(),
        recorded_by: id(2),
        recorded_at_us: NOW_US,
        custody_scope: None,
        custody_signer: None,
        custody_png_sha256: None,
        custody_signed_at_us: None,
    };
    insert(
        db,
        fix::ActiveModel {
            custody_scope: NotSet,
            custody_signer: NotSet,
            custody_png_sha256: NotSet,
            custody_signed_at_us: NotSet,
            ..fix.into()
        },
    )
    .await;
    let line = cost_line::Model {
        id: id(23),
        slip_id: SLIP.into(),
        kind: "part".into(),
        description: "SSD 1 TB".into(),
        part_number: "SSD-1T".into(),
        quantity: 1,
        unit_price_minor: 89_900,
        currency: "CNY".into(),
        billable: false,
        recorded_by: id(2),
        recorded_at_us: NOW_US,
        billable_override_reason: None,
    };
    insert(db, cost_line::ActiveModel { billable_override_reason: NotSet, ..line.into() }).await;
    let sign_off = sign_off::Model {
        slip_id: SLIP.into(),
        signer_name: "Ms. Zhou".into(),
        satisfaction: Some("very_satisfied".into()),
        service_quality_rating: 5,
        product_rating: 4,
        support_rating: 5,
        customer_opinion: "Fast".into(),
        signature_png: b"\x89PNG\r\n\x1a\nold".to_vec(),
        signature_png_sha256: "ab".repeat(32),
        report_content_sha256: "cd".repeat(32),
        device_signature: vec![7; 64],
        device_id: String::new(),
        signed_at_us: NOW_US,
        verified: true,
        recorded_by: id(2),
        report_content: None,
    };
    // Version 1 had no report content column.
    insert(db, sign_off::ActiveModel { report_content: NotSet, ..sign_off.into() }).await;
}

/// What version 4 added: the engineers each slip was assigned to (a release of version 4
/// wrote them at every dispatch; version 4's own upgrade fills them from the audit log).
async fn seed_version_4(db: &DatabaseConnection) {
    for slip in [SLIP, DISPATCHED] {
        let sql = format!(
            "INSERT INTO slip_assignments (slip_id, engineer_id, assigned_at_us) VALUES ('{slip}', '{ENGINEER}', 0)"
        );
        db.execute_unprepared(&sql).await.unwrap_or_else(|e| panic!("{e}"));
    }
}

/// What version 7 kept on each slip: the facts who pays is decided on, as its server set them.
async fn seed_version_7(db: &DatabaseConnection) {
    let sql =
        format!("UPDATE slips SET warranty_end = '2027-03-01', root_cause = 'software_defect' WHERE id = '{SLIP}'");
    db.execute_unprepared(&sql).await.unwrap_or_else(|e| panic!("{e}"));
}

/// What version 2 added: position history and the board's feed.
async fn seed_version_2(db: &DatabaseConnection) {
    let fix = engineer_position::Model {
        id: "01936a00-0000-7000-8000-000000000030".into(),
        engineer_id: ENGINEER.into(),
        latitude: 31.21,
        longitude: 121.55,
        accuracy_m: 8.0,
        device_time_us: NOW_US,
        received_at_us: NOW_US,
    };
    insert(db, engineer_position::ActiveModel::from(fix)).await;
    let event = board_event::ActiveModel {
        seq: NotSet,
        at_us: sea_orm::Set(NOW_US),
        kind: sea_orm::Set("engineer".into()),
        subject_id: sea_orm::Set(ENGINEER.into()),
        engineer_ids: sea_orm::Set(ENGINEER.into()),
        payload: sea_orm::Set(prost::Message::encode_to_vec(&pb::Engineer {
            id: ENGINEER.into(),
            ..Default::default()
        })),
    };
    insert(db, event).await;
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .and_then(|row| row.try_get::<i64>("", "n").ok())
        .unwrap_or(-1)
}

const SEEDED: [&str; 14] = [
    "users",
    "api_tokens",
    "customers",
    "customer_contacts",
    "customer_sites",
    "installed_products",
    "engineers",
    "tickets",
    "ticket_events",
    "slips",
    "slip_events",
    "slip_backups",
    "slip_fixes",
    "slip_cost_lines",
];

async fn every_earlier_schema_upgrades_with_its_data(backend: Backend) {
    let newest = migrations::MIGRATIONS.len();
    for version in 1..newest {
        let (url, dir) = empty_database(backend).await;
        let db = store::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
        migrations::migrate_to(&db, &migrations::MIGRATIONS[..version]).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(migrations::current_version(&db).await.ok(), Some(version as i64));
        seed_version_1(&db).await;
        if version >= 2 {
            seed_version_2(&db).await;
        }
        if version >= 4 {
            seed_version_4(&db).await;
        }
        if version >= 7 {
            seed_version_7(&db).await;
        }
        let before: Vec<i64> = row_counts(&db).await;

        let applied = migrations::migrate(&db).await.unwrap_or_else(|e| panic!("upgrade from {version}: {e}"));
        assert_eq!(applied, newest - version, "every later migration ran once");
        assert_eq!(row_counts(&db).await, before, "no row lost or added by the upgrade from {version}");
        // The engineer is known to have had both slips.
        assert_eq!(count(&db, "slip_assignments").await, 2, "assignments carried over from {version}");
        drop(db);

        let server = TestServer::start_with(onsite_server::Config::new(url), dir).await;
        let slip = server
            .slips()
            .get_slip(authed(MANAGER_TOKEN, pb::GetSlipRequest { id: SLIP.into() }))
            .await
            .unwrap_or_else(|e| panic!("old slip after upgrade from {version}: {e}"))
            .into_inner();
        assert_eq!(slip.state, pb::SlipState::Completed as i32);
        assert_eq!(slip.ticket_number, "TS20251124-0001");
        assert_eq!(slip.backups.first().map(|b| b.location.as_str()), Some("USB disk SN 4471"));
        assert_eq!(slip.fix.as_ref().map(|f| f.custody.is_none()), Some(true), "no custody on record");
        assert_eq!(
            slip.fix.as_ref().map(|f| (f.solution.as_str(), f.time_spent_minutes)),
            Some(("Patched the batch job", 95))
        );
        assert_eq!(slip.cost_lines.first().and_then(|c| c.unit_price.as_ref()).map(|m| m.minor_units), Some(89_900));
        let sign_off = slip.sign_off.unwrap_or_else(|| panic!("sign-off lost"));
        assert!(sign_off.verified && sign_off.report_content.is_empty(), "kept as verified, without content");
        assert_eq!(slip.etag, "\"9\"");
        // The warranty the old visit is judged on comes from the ticket's product, and the
        // root cause from its fix: in warranty, a software defect is free.
        let warranty = slip.warranty.unwrap_or_else(|| panic!("warranty"));
        assert_eq!(warranty.last_day, Some(pb::Date { year: 2027, month: 3, day: 1 }));
        assert_eq!(warranty.cover(), pb::Cover::Free, "upgrade from {version}");

        let positions = server
            .engineers()
            .list_positions(authed(ENGINEER_TOKEN, pb::ListPositionsRequest::default()))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_inner()
            .positions;
        assert_eq!(positions.len(), usize::from(version >= 2), "position history of version 2 kept");

        // Newer features on old data: a device registers and pushes onto the old slip.
        let device_id = uuid::Uuid::now_v7().to_string();
        let key = [5u8; 32];
        let register = pb::RegisterDeviceRequest {
            device_id: device_id.clone(),
            public_key: onsite_proto::signoff::public_key(&key).to_vec(),
            label: "upgraded".into(),
        };
        server.sync().register_device(authed(ENGINEER_TOKEN, register)).await.unwrap_or_else(|e| panic!("{e}"));
        let op = pb::Op {
            op_id: request_id(),
            device_id: device_id.clone(),
            device_seq: 1,
            slip_id: DISPATCHED.into(),
            payload: Some(pb::op::Payload::Confirm(pb::ConfirmSlipOp {})),
            ..Default::default()
        };
        let push = pb::PushRequest { device_id, ops: vec![op], device_time: None };
        let pushed = server.sync().push(authed(ENGINEER_TOKEN, push)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pushed.into_inner().results.first().map(|r| r.outcome()), Some(pb::OpOutcome::Applied));
        let catalog = pb::catalog_service_client::CatalogServiceClient::new(server.channel.clone())
            .list_parts(authed(MANAGER_TOKEN, pb::ListPartsRequest::default()))
            .await
            .unwrap_or_else(|e| panic!("catalog after upgrade from {version}: {e}"));
        assert!(catalog.into_inner().parts.is_empty());
        server.stop().await;
    }
}

async fn row_counts(db: &DatabaseConnection) -> Vec<i64> {
    let mut counts = Vec::with_capacity(SEEDED.len() + 1);
    for table in SEEDED {
        counts.push(count(db, table).await);
    }
    counts.push(count(db, "slip_sign_offs").await);
    counts
}
