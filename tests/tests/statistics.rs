//! Monthly statistics against a month computed by hand, on both backends, and the archive:
//! revision 1 when the month is closed, a new revision (never a rewrite) after a correction.
//!
//! The visits are walked through the API; then the times the figures are counted by (arrival,
//! sign-off, a ticket's submission, response and resolution) are moved into October 2026 in
//! the database, as if the month had been lived then.

use chrono::{TimeZone, Utc};
use onsite_proto::v1 as pb;
use onsite_server::statistics::{YearMonth, schedule};
use onsite_tests::expect::{expect_code, violated_fields};
use onsite_tests::{Backend, Fixture, authed, request_id, signed_sign_off};
use tonic::Code;

onsite_tests::conformance!(october_matches_the_hand_computed_figures_and_is_archived_once);

/// µs of a UTC time in 2026 (the fixture server's calendar is UTC).
fn at(month: u32, day: u32, hour: u32) -> i64 {
    Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).single().map_or(0, |t| t.timestamp_micros())
}

fn money(minor_units: i64) -> Option<pb::Money> {
    Some(pb::Money { minor_units, currency_code: "CNY".into() })
}

fn line(kind: pb::CostKind, description: &str, quantity: i32, price: i64) -> pb::CostLine {
    pb::CostLine {
        kind: kind as i32,
        description: description.into(),
        quantity,
        unit_price: money(price),
        ..Default::default()
    }
}

/// What one visit records.
struct Visit {
    kind: pb::VisitKind,
    outcome: pb::FixOutcome,
    cause: pb::RootCause,
    minutes: i32,
    lines: Vec<pb::CostLine>,
    satisfaction: Option<pb::Satisfaction>,
}

/// Walks a visit of `ticket` by the engineer `(id, token)` through the API; returns the slip id.
async fn walk(f: &Fixture, ticket: &pb::Ticket, (engineer_id, token): (&str, &str), hours: i64, v: Visit) -> String {
    let create = pb::CreateSlipRequest {
        request_id: request_id(),
        ticket_id: ticket.id.clone(),
        site_id: f.site_id.clone(),
        instructions: "Back up first".into(),
        kind: v.kind as i32,
        ..Default::default()
    };
    let slip = f.server.slips().create_slip(authed(&f.manager, create)).await.unwrap_or_else(|e| panic!("{e}"));
    let id = f.verify_and_dispatch(&slip.into_inner(), engineer_id).await.id;
    let mut slips = f.server.slips();
    let ok = |r: Result<tonic::Response<pb::Slip>, tonic::Status>| r.unwrap_or_else(|e| panic!("the visit: {e}"));
    f.arrive(token, &id, hours, "Ms. Zhou", pb::GeoPoint { latitude: 31.2046, longitude: 121.5996 }).await;
    let backup = pb::LogBackupRequest {
        request_id: request_id(),
        slip_id: id.clone(),
        backup: Some(onsite_tests::visit::wire_backup()),
    };
    ok(slips.log_backup(authed(token, backup)).await);
    let fix = pb::FixRecord {
        outcome: v.outcome as i32,
        root_cause: v.cause as i32,
        time_spent_minutes: v.minutes,
        ..onsite_tests::visit::wire_fix()
    };
    ok(slips
        .record_fix(authed(
            token,
            pb::RecordFixRequest { request_id: request_id(), slip_id: id.clone(), fix: Some(fix) },
        ))
        .await);
    if !v.lines.is_empty() {
        let lines = pb::AddPartsCostRequest { request_id: request_id(), slip_id: id.clone(), lines: v.lines };
        ok(slips.add_parts_cost(authed(token, lines)).await);
    }
    if let Some(satisfaction) = v.satisfaction {
        let sign_off =
            pb::SignOff { signer_name: "Ms. Zhou".into(), satisfaction: satisfaction as i32, ..Default::default() };
        let request = signed_sign_off(&f.server, token, &id, sign_off, &onsite_tests::signature_png(5)).await;
        ok(slips.capture_sign_off(authed(token, request)).await);
    }
    id
}

async fn sql(db: &sea_orm::DatabaseConnection, statement: &str) {
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Moves a slip's arrival and sign-off to `arrived`, an hour apart.
async fn visited(db: &sea_orm::DatabaseConnection, slip: &str, arrived: i64) {
    sql(db, &format!("UPDATE slips SET arrived_at_us = {arrived} WHERE id = '{slip}'")).await;
    let signed = arrived + 3_600_000_000;
    sql(db, &format!("UPDATE slip_sign_offs SET signed_at_us = {signed} WHERE slip_id = '{slip}'")).await;
}

/// Sets a ticket's clock: submitted, due and answered, due and resolved (`None`: not yet).
async fn ticket_times(db: &sea_orm::DatabaseConnection, ticket: &str, times: [Option<i64>; 5]) {
    let v = |t: Option<i64>| t.map_or("NULL".to_owned(), |t| t.to_string());
    let [submitted, respond_by, responded, resolve_by, resolved] = times.map(v);
    sql(
        db,
        &format!(
        "UPDATE tickets SET submitted_at_us = {submitted}, respond_by_us = {respond_by}, responded_at_us = {responded},
            resolve_by_us = {resolve_by}, resolved_at_us = {resolved} WHERE id = '{ticket}'"
    ),
    )
    .await;
}

fn visits(person_visits: i32, person_days: f64, cost: i64) -> Option<pb::VisitFigures> {
    Some(pb::VisitFigures { person_visits, person_days, cost: money(cost) })
}

fn ratio(numerator: i32, denominator: i32) -> Option<pb::Ratio> {
    Some(pb::Ratio { numerator, denominator })
}

fn hours(h: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds: h * 3600, nanos: 0 })
}

async fn october_matches_the_hand_computed_figures_and_is_archived_once(backend: Backend) {
    // No archiving on its own: the test closes the month at a time of its choosing.
    let f = Fixture::with_config(backend, |c| c.statistics.check_interval = None).await;
    let a = (f.engineer_id.as_str(), f.engineer.as_str());
    let b = (f.other_engineer_id.as_str(), f.other_engineer.as_str());
    let software = |outcome, minutes, lines, satisfaction| Visit {
        kind: pb::VisitKind::Repair,
        outcome,
        cause: pb::RootCause::SoftwareDefect,
        minutes,
        lines,
        satisfaction,
    };
    use pb::{CostKind as K, FixOutcome as O, Satisfaction as S};

    // T3 / V4, September: a repair of the S2 for a software defect (outside the month).
    let t3 = f.ticket(pb::Severity::General).await;
    let v4 =
        walk(&f, &t3, a, 2, software(O::Resolved, 45, vec![line(K::Part, "Fan", 1, 10_000)], Some(S::Satisfied))).await;
    // T1 / V1, 5 October: urgent, answered and resolved in time; the same cause a week later,
    // so a repeat repair. 120 minutes, an SSD (free in warranty) and a taxi.
    let t1 = f.ticket(pb::Severity::Urgent).await;
    let v1_lines = vec![line(K::Part, "SSD 1 TB", 1, 89_900), line(K::Travel, "Taxi", 1, 8_650)];
    let v1 = walk(&f, &t1, a, 5, software(O::Resolved, 120, v1_lines, Some(S::VerySatisfied))).await;
    // T2 / V2, 20 October, engineer B: the same cause again, unresolved, a dissatisfied customer.
    let t2 = f.ticket(pb::Severity::Important).await;
    let v2 = walk(
        &f,
        &t2,
        b,
        8,
        software(O::Unresolved, 60, vec![line(K::Labour, "Labour", 3, 21_650)], Some(S::Dissatisfied)),
    )
    .await;
    // T5 / V3, 12 October: installation by A, a full day, not signed off yet.
    let t5 = f.ticket(pb::Severity::General).await;
    let install = Visit {
        kind: pb::VisitKind::Installation,
        outcome: O::Resolved,
        cause: pb::RootCause::AssemblyDefect,
        minutes: 480,
        lines: vec![line(K::Material, "Rack rails", 1, 12_000), line(K::Transport, "Van", 1, 4_500)],
        satisfaction: None,
    };
    let v3 = walk(&f, &t5, a, 11, install).await;
    // T4, 25 October: urgent, answered three hours late, no visit.
    let t4 = f.ticket(pb::Severity::Urgent).await;

    let db = onsite_server::store::connect(&f.server.database_url).await.unwrap_or_else(|e| panic!("{e}"));
    visited(&db, &v4, at(9, 28, 10)).await;
    visited(&db, &v1, at(10, 5, 10)).await;
    visited(&db, &v3, at(10, 12, 9)).await;
    visited(&db, &v2, at(10, 20, 14)).await;
    ticket_times(
        &db,
        &t3.id,
        [Some(at(9, 27, 9)), Some(at(9, 27, 17)), Some(at(9, 27, 10)), Some(at(9, 30, 9)), Some(at(9, 28, 12))],
    )
    .await;
    ticket_times(
        &db,
        &t1.id,
        [
            Some(at(10, 5, 9)),
            Some(at(10, 5, 11)),
            Some(at(10, 5, 9) + 1_800_000_000),
            Some(at(10, 5, 13)),
            Some(at(10, 5, 12)),
        ],
    )
    .await;
    ticket_times(
        &db,
        &t2.id,
        [Some(at(10, 19, 9)), Some(at(10, 19, 17)), Some(at(10, 19, 10)), Some(at(10, 22, 9)), None],
    )
    .await;
    ticket_times(&db, &t5.id, [Some(at(10, 1, 9)), Some(at(10, 1, 17)), Some(at(10, 1, 10)), Some(at(10, 4, 9)), None])
        .await;
    ticket_times(
        &db,
        &t4.id,
        [Some(at(10, 25, 9)), Some(at(10, 25, 11)), Some(at(10, 25, 14)), Some(at(10, 25, 13)), None],
    )
    .await;

    // The month by hand.
    // Visits in October: V1 (A, repair), V2 (B, repair), V3 (A, installation); V4 is September's.
    let totals = pb::MonthlyFigures {
        installation: visits(1, 1.0, 12_000 + 4_500),
        // 120 + 60 minutes = 0.375 days, shown as 0.38.
        repair: visits(2, 0.38, 89_900 + 8_650 + 3 * 21_650),
        maintenance: visits(0, 0.0, 0),
        materials_cost: money(89_900 + 12_000),
        transport_cost: money(8_650 + 4_500),
        // Installation is paid by the contract.
        total_after_sales_cost: money(89_900 + 8_650 + 3 * 21_650),
        // Urgent T1 on time, urgent T4 late.
        urgent_response_on_time: ratio(1, 2),
        // Resolved in October: T1, in time (T3 was resolved in September).
        resolved_within_sla: ratio(1, 1),
        // First repair visits with a fix: V1 resolved, V2 not.
        first_time_fix: ratio(1, 2),
        // Signed in October: V1 very satisfied, V2 dissatisfied (V3 not signed).
        satisfied_or_better: ratio(1, 2),
        // V1 (after V4, 7 days before) and V2 (after V1): the same S2, the same cause.
        repeat_repairs: 2,
        // T1: 09:00 -> 12:00.
        average_resolution_time: hours(3),
        lines_in_other_currencies: 0,
    };
    let engineer_a = pb::MonthlyFigures {
        installation: visits(1, 1.0, 16_500),
        repair: visits(1, 0.25, 98_550),
        maintenance: visits(0, 0.0, 0),
        materials_cost: money(101_900),
        transport_cost: money(13_150),
        total_after_sales_cost: money(98_550),
        // Ticket figures are not split between engineers.
        urgent_response_on_time: ratio(0, 0),
        resolved_within_sla: ratio(0, 0),
        first_time_fix: ratio(1, 1),
        satisfied_or_better: ratio(1, 1),
        repeat_repairs: 1,
        average_resolution_time: hours(0),
        lines_in_other_currencies: 0,
    };
    let engineer_b = pb::MonthlyFigures {
        installation: visits(0, 0.0, 0),
        // 60 minutes = 0.125 days, shown as 0.13.
        repair: visits(1, 0.13, 64_950),
        maintenance: visits(0, 0.0, 0),
        materials_cost: money(0),
        transport_cost: money(0),
        total_after_sales_cost: money(64_950),
        urgent_response_on_time: ratio(0, 0),
        resolved_within_sla: ratio(0, 0),
        first_time_fix: ratio(0, 1),
        satisfied_or_better: ratio(0, 1),
        repeat_repairs: 1,
        average_resolution_time: hours(0),
        lines_in_other_currencies: 0,
    };

    let mut reports = f.server.reports();
    let get = |revision| pb::GetMonthlyStatisticsRequest { year: 2026, month: 10, revision };
    let live =
        reports.get_monthly_statistics(authed(&f.manager, get(0))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(live.revision, 0, "not archived yet: live figures");
    assert_eq!(live.currency, "CNY");
    assert_eq!(live.totals.as_ref(), Some(&totals));
    let by_engineer: Vec<(&str, &str, Option<&pb::MonthlyFigures>)> =
        live.by_engineer.iter().map(|r| (r.key.as_str(), r.name.as_str(), r.figures.as_ref())).collect();
    let mut expected = vec![(a.0, "Wang Lei", Some(&engineer_a)), (b.0, "Li Na", Some(&engineer_b))];
    expected.sort_by_key(|(id, _, _)| *id);
    assert_eq!(by_engineer, expected);
    // One customer and one product line: each row is the whole month.
    assert_eq!(live.by_customer.len(), 1);
    assert_eq!(
        (live.by_customer[0].name.as_str(), live.by_customer[0].figures.as_ref()),
        ("Huadong Precision Machinery", Some(&totals))
    );
    assert_eq!(live.by_product_line.len(), 1);
    assert_eq!((live.by_product_line[0].key.as_str(), live.by_product_line[0].figures.as_ref()), ("S2", Some(&totals)));
    let causes: Vec<(i32, i32)> = live.top_causes.iter().map(|c| (c.root_cause, c.visits)).collect();
    assert_eq!(causes, [(pb::RootCause::SoftwareDefect as i32, 2), (pb::RootCause::AssemblyDefect as i32, 1)]);

    // 3 November: the month is closed and archived, once.
    let config = onsite_server::Config {
        statistics: Default::default(),
        ..onsite_server::Config::new(f.server.database_url.clone())
    };
    let app = onsite_server::app::App::open(db.clone(), config).await.unwrap_or_else(|e| panic!("{e}"));
    let before_day = Utc.with_ymd_and_hms(2026, 11, 2, 23, 0, 0).single().unwrap_or_default();
    assert_eq!(schedule::sweep(&app, before_day).await.ok(), Some(vec![]), "not before the 3rd");
    let closing = Utc.with_ymd_and_hms(2026, 11, 3, 6, 0, 0).single().unwrap_or_default();
    let october = YearMonth { year: 2026, month: 10 };
    assert_eq!(schedule::sweep(&app, closing).await.ok(), Some(vec![october]));
    assert_eq!(schedule::sweep(&app, closing).await.ok(), Some(vec![]), "nothing changed: no new revision");
    let first =
        reports.get_monthly_statistics(authed(&f.manager, get(0))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(first.revision, 1);
    assert_eq!(first.revisions.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(), ["month closed"]);
    assert_eq!(
        pb::MonthlyStatistics { revision: 0, revisions: Vec::new(), ..first.clone() },
        live,
        "archived as computed"
    );

    // A late record of October: the van's return trip. The next sweep adds revision 2.
    let late = vec![line(K::Transport, "Van, return", 1, 3_000)];
    f.server
        .slips()
        .add_parts_cost(authed(
            &f.engineer,
            pb::AddPartsCostRequest { request_id: request_id(), slip_id: v3.clone(), lines: late },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let later = Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).single().unwrap_or_default();
    assert_eq!(schedule::sweep(&app, later).await.ok(), Some(vec![october]));
    let second =
        reports.get_monthly_statistics(authed(&f.manager, get(0))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(second.revision, 2);
    let reasons: Vec<&str> = second.revisions.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reasons, ["month closed", "records changed after revision 1"]);
    let corrected = second.totals.clone().unwrap_or_default();
    assert_eq!(corrected.installation, visits(1, 1.0, 19_500));
    assert_eq!(corrected.transport_cost, money(16_150));
    // What was reported first is still there, unchanged.
    let reported =
        reports.get_monthly_statistics(authed(&f.manager, get(1))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(reported.revision, 1);
    assert_eq!(reported.totals.as_ref(), Some(&totals));
    use sea_orm::ConnectionTrait;
    let rewrite = db.execute_unprepared("UPDATE monthly_reports SET reason = 'edited' WHERE revision = 1").await;
    assert!(rewrite.is_err(), "the archive is append-only");

    // September is not archived (the server started after it): live figures of V4 alone.
    let september = pb::GetMonthlyStatisticsRequest { year: 2026, month: 9, revision: 0 };
    let sept = reports
        .get_monthly_statistics(authed(&f.manager, september))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!((sept.revision, sept.totals.and_then(|t| t.repair)), (0, visits(1, 0.09, 10_000)));

    // Refusals.
    expect_code(reports.get_monthly_statistics(authed(&f.engineer, get(0))).await, Code::PermissionDenied);
    let bad = pb::GetMonthlyStatisticsRequest { year: 2026, month: 13, revision: 0 };
    assert_eq!(
        violated_fields(&expect_code(
            reports.get_monthly_statistics(authed(&f.manager, bad)).await,
            Code::InvalidArgument
        )),
        ["month"]
    );
    expect_code(reports.get_monthly_statistics(authed(&f.manager, get(7))).await, Code::NotFound);
}
