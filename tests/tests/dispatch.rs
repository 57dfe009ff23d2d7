//! Dispatch against real servers on both backends: engineers and their positions, suggestions
//! and the filters behind them, auto-assign, appointments without double-booking, the live
//! board, and replicas that follow each other's changes.

use std::time::Duration;

use onsite_proto::v1 as pb;
use onsite_tests::expect::{expect_code, reason, violated_fields};
use onsite_tests::{Backend, Fixture, TestServer, authed, monday_window, new_login, request_id};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

onsite_tests::conformance!(
    engineers_update_with_etags,
    positions_move_forward_and_keep_history,
    suggestions_explain_every_filter,
    slip_suggestions_need_the_tier_and_widen_when_urgent,
    suggestions_follow_changes_to_the_ticket_and_the_engineers,
    concurrent_bookings_of_one_engineer_one_wins,
    an_engineers_appointments,
    the_board_streams_and_resumes,
    an_engineer_sees_only_themselves_and_skill_search_is_literal,
    the_index_reads_engineers_as_stored,
);

/// An engineer as the tests want it.
struct Spec<'a> {
    number: &'a str,
    at: (f64, f64),
    tier: pb::Tier,
    skills: &'a [&'a str],
    status: pb::EngineerStatus,
    shift: &'a str,
}

impl<'a> Spec<'a> {
    fn new(number: &'a str, at: (f64, f64)) -> Self {
        Self {
            number,
            at,
            tier: pb::Tier::Field,
            skills: &["payroll"],
            status: pb::EngineerStatus::Available,
            shift: "Mon-Sun 00:00-24:00",
        }
    }
}

async fn engineer(f: &Fixture, spec: Spec<'_>) -> pb::Engineer {
    f.server
        .engineers()
        .create_engineer(authed(
            &f.manager,
            pb::CreateEngineerRequest {
                request_id: request_id(),
                engineer: Some(pb::Engineer {
                    employee_number: spec.number.into(),
                    name: format!("Engineer {}", spec.number),
                    tier: spec.tier as i32,
                    skills: spec.skills.iter().map(|s| s.to_string()).collect(),
                    home_base: Some(pb::GeoPoint { latitude: spec.at.0, longitude: spec.at.1 }),
                    status: spec.status as i32,
                    shift: spec.shift.into(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("create engineer {}: {e}", spec.number))
        .into_inner()
}

/// A slip of a new ticket, verified and dispatched to `engineer_id`.
async fn dispatched(f: &Fixture, engineer_id: &str) -> pb::Slip {
    f.dispatched_slip(engineer_id).await
}

/// Dispatched and confirmed by the engineer behind `token`.
async fn confirmed(f: &Fixture, engineer_id: &str, token: &str) -> pb::Slip {
    let slip = dispatched(f, engineer_id).await;
    let action = pb::SlipActionRequest { request_id: request_id(), slip_id: slip.id.clone(), etag: String::new() };
    f.server.slips().confirm_slip(authed(token, action)).await.unwrap_or_else(|e| panic!("confirm: {e}")).into_inner()
}

fn book(slip_id: &str, window: pb::TimeWindow) -> pb::BookAppointmentRequest {
    pb::BookAppointmentRequest {
        request_id: request_id(),
        slip_id: slip_id.into(),
        window: Some(window),
        contact_name: "Ms. Zhou".into(),
        ..Default::default()
    }
}

async fn engineers_update_with_etags(backend: Backend) {
    let f = Fixture::new(backend).await;
    let mut client = f.server.engineers();
    let current = client
        .get_engineer(authed(&f.manager, pb::GetEngineerRequest { id: f.engineer_id.clone() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let update = |engineer: pb::Engineer, paths: &[&str]| pb::UpdateEngineerRequest {
        request_id: request_id(),
        engineer: Some(engineer),
        update_mask: Some(prost_types::FieldMask { paths: paths.iter().map(|p| p.to_string()).collect() }),
    };
    let wanted = pb::Engineer {
        id: current.id.clone(),
        etag: current.etag.clone(),
        skills: vec!["Payroll".into(), "Printers".into()],
        status: pb::EngineerStatus::Off as i32,
        name: "ignored: not in the mask".into(),
        ..Default::default()
    };
    let saved = client
        .update_engineer(authed(&f.manager, update(wanted.clone(), &["skills", "status"])))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(saved.skills, ["payroll", "printers"]);
    assert_eq!(saved.status, pb::EngineerStatus::Off as i32);
    assert_eq!(saved.name, current.name);
    assert_ne!(saved.etag, current.etag);

    let stale = client.update_engineer(authed(&f.manager, update(wanted.clone(), &["skills"]))).await;
    assert_eq!(reason(&expect_code(stale, Code::Aborted)), "STALE_ETAG");
    let fresh = pb::Engineer { etag: saved.etag.clone(), shift: "Mon-Fri 18:00-08:00".into(), ..wanted.clone() };
    let bad_shift = client.update_engineer(authed(&f.manager, update(fresh.clone(), &["shift"]))).await;
    assert_eq!(violated_fields(&expect_code(bad_shift, Code::InvalidArgument)), ["engineer.shift"]);
    let bad_path = client.update_engineer(authed(&f.manager, update(fresh.clone(), &["last_position"]))).await;
    assert_eq!(violated_fields(&expect_code(bad_path, Code::InvalidArgument)), ["update_mask.paths"]);
    let taken = pb::Engineer { employee_number: "18".into(), ..fresh.clone() };
    let taken = client.update_engineer(authed(&f.manager, update(taken, &["employee_number"]))).await;
    assert_eq!(reason(&expect_code(taken, Code::AlreadyExists)), "EMPLOYEE_NUMBER_TAKEN");
    let by_engineer = client.update_engineer(authed(&f.engineer, update(fresh, &["skills"]))).await;
    expect_code(by_engineer, Code::PermissionDenied);
}

fn fix(lat: f64, lon: f64, minutes_ago: i64) -> pb::LocationReport {
    pb::LocationReport {
        position: Some(pb::GeoPoint { latitude: lat, longitude: lon }),
        time: Some(onsite_proto::convert::timestamp(chrono::Utc::now() - chrono::Duration::minutes(minutes_ago))),
        accuracy_m: 12.0,
    }
}

fn report(reports: Vec<pb::LocationReport>) -> pb::ReportLocationRequest {
    pb::ReportLocationRequest { request_id: request_id(), reports }
}

async fn positions_move_forward_and_keep_history(backend: Backend) {
    let f = Fixture::new(backend).await;
    let mut client = f.server.engineers();
    // A batch sent after being offline, not in time order.
    let batch = vec![fix(31.10, 121.30, 30), fix(31.12, 121.32, 10), fix(31.11, 121.31, 20)];
    let answer = client.report_location(authed(&f.engineer, report(batch))).await.unwrap_or_else(|e| panic!("{e}"));
    let answer = answer.into_inner();
    assert_eq!(answer.accepted, 3);
    let last = answer.engineer.and_then(|e| e.last_position).unwrap_or_else(|| panic!("no last position"));
    assert_eq!((last.latitude, last.longitude), (31.12, 121.32), "the newest fix wins, not the last sent");

    // A late fix from before does not move the engineer back.
    let late = client.report_location(authed(&f.engineer, report(vec![fix(30.0, 120.0, 60)]))).await;
    let late = late.unwrap_or_else(|e| panic!("{e}")).into_inner().engineer.and_then(|e| e.last_position);
    assert_eq!(late.map(|p| p.latitude), Some(31.12));

    let history = client
        .list_positions(authed(
            &f.manager,
            pb::ListPositionsRequest { engineer_id: f.engineer_id.clone(), page_size: 3, ..Default::default() },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let lats: Vec<f64> = history.positions.iter().filter_map(|p| p.position.as_ref()).map(|p| p.latitude).collect();
    assert_eq!(lats, [31.12, 31.11, 31.10], "newest first");
    let rest = client
        .list_positions(authed(
            &f.engineer,
            pb::ListPositionsRequest { page_size: 3, page_token: history.next_page_token, ..Default::default() },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(rest.positions.len(), 1, "the engineer reads their own history, page two");
    assert!(rest.next_page_token.is_empty());

    let others = pb::ListPositionsRequest { engineer_id: f.engineer_id.clone(), ..Default::default() };
    // Another engineer's history answers as no engineer's.
    expect_code(client.list_positions(authed(&f.other_engineer, others)).await, Code::NotFound);
    let bad =
        vec![fix(31.0, 121.0, 1), fix(95.0, 121.0, 1), pb::LocationReport { accuracy_m: -1.0, ..fix(31.0, 121.0, 1) }];
    let bad = client.report_location(authed(&f.engineer, report(bad))).await;
    assert_eq!(
        violated_fields(&expect_code(bad, Code::InvalidArgument)),
        ["reports[1].position.latitude", "reports[2].accuracy_m"]
    );
    let empty = client.report_location(authed(&f.engineer, report(vec![]))).await;
    assert_eq!(violated_fields(&expect_code(empty, Code::InvalidArgument)), ["reports"]);
    let by_manager = client.report_location(authed(&f.manager, report(vec![fix(31.0, 121.0, 1)]))).await;
    expect_code(by_manager, Code::PermissionDenied);
}

/// A point `km` north of (30.5, 120.5).
fn north(km: f64) -> (f64, f64) {
    (30.5 + km / 111.2, 120.5)
}

async fn suggestions_explain_every_filter(backend: Backend) {
    let f = Fixture::with_config(backend, |c| c.max_open_slips = 2).await;
    let admin = f.server.admin_token.clone();
    let window = monday_window(10, 2);
    let good = engineer(&f, Spec { skills: &["payroll", "database"], ..Spec::new("G1", north(2.0)) }).await;
    let off = engineer(&f, Spec { status: pb::EngineerStatus::Off, ..Spec::new("X1", north(0.5)) }).await;
    let unskilled = engineer(&f, Spec { skills: &["printers"], ..Spec::new("X2", north(0.7)) }).await;
    let off_shift = engineer(&f, Spec { shift: "Sun 00:00-01:00", ..Spec::new("X3", north(0.9)) }).await;
    let booked = engineer(&f, Spec::new("X4", north(1.1))).await;
    let busy = engineer(&f, Spec::new("X5", north(1.3))).await;
    let booked_token = new_login(&f.server, &admin, "X4", pb::Role::Engineer, &booked.id).await;
    let slip = confirmed(&f, &booked.id, &booked_token).await;
    let overlapping = monday_window(11, 2);
    f.server
        .slips()
        .book_appointment(authed(&f.manager, book(&slip.id, overlapping)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    dispatched(&f, &busy.id).await;
    dispatched(&f, &busy.id).await;

    let ask = pb::SuggestEngineersRequest {
        position: Some(pb::GeoPoint { latitude: 30.5, longitude: 120.5 }),
        window: Some(window),
        required_skills: vec!["Payroll".into()],
        max_distance_km: 20.0,
        ..Default::default()
    };
    let answer = f
        .server
        .dispatch()
        .suggest_engineers(authed(&f.manager, ask.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let suggested: Vec<&str> =
        answer.suggestions.iter().filter_map(|s| s.engineer.as_ref()).map(|e| e.id.as_str()).collect();
    assert_eq!(suggested, [good.id.as_str()]);
    let best = &answer.suggestions[0];
    assert!((best.distance_km - 2.0).abs() < 0.05, "geodesic distance {}", best.distance_km);
    assert_eq!(best.travel_estimate_method, pb::TravelEstimateMethod::StraightLine as i32);
    let seconds = best.travel_estimate.as_ref().map_or(0, |d| d.seconds);
    assert!((170..=190).contains(&seconds), "2 km at 40 km/h is 3 minutes, not {seconds} s");
    assert_eq!(best.current_load, 0);
    let excluded: Vec<(&str, &str)> =
        answer.exclusions.iter().map(|e| (e.engineer_id.as_str(), e.reason.as_str())).collect();
    assert_eq!(
        excluded,
        [
            (off.id.as_str(), "STATUS_OFF"),
            (unskilled.id.as_str(), "MISSING_SKILL"),
            (off_shift.id.as_str(), "OFF_SHIFT"),
            (booked.id.as_str(), "DOUBLE_BOOKED"),
            (busy.id.as_str(), "OVERLOADED"),
        ],
        "nearest first, each for the filter it fails"
    );
    assert_eq!(answer.exclusions[0].employee_number, "X1");
    assert!(!answer.urgent);
    assert_eq!(answer.search_radius_km, 20.0);

    // A window that does not overlap the booking frees that engineer.
    let later = pb::SuggestEngineersRequest { window: Some(monday_window(14, 2)), ..ask.clone() };
    let later = f.server.dispatch().suggest_engineers(authed(&f.manager, later)).await;
    let later = later.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let ids: Vec<&str> = later.suggestions.iter().filter_map(|s| s.engineer.as_ref()).map(|e| e.id.as_str()).collect();
    assert!(ids.contains(&booked.id.as_str()), "free at 14:00: {ids:?}");
    // Beyond the radius nobody is suggested or explained.
    let far = pb::SuggestEngineersRequest { max_distance_km: 0.4, ..ask.clone() };
    let far = f.server.dispatch().suggest_engineers(authed(&f.manager, far)).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(far.get_ref().suggestions.is_empty() && far.get_ref().exclusions.is_empty());

    for (bad, field) in [
        (pb::SuggestEngineersRequest { limit: 51, ..ask.clone() }, "limit"),
        (pb::SuggestEngineersRequest { max_distance_km: -1.0, ..ask.clone() }, "max_distance_km"),
        (pb::SuggestEngineersRequest { position: None, ..ask.clone() }, "position"),
        (
            pb::SuggestEngineersRequest {
                position: Some(pb::GeoPoint { latitude: 0.0, longitude: 200.0 }),
                ..ask.clone()
            },
            "position.longitude",
        ),
    ] {
        let status =
            expect_code(f.server.dispatch().suggest_engineers(authed(&f.manager, bad)).await, Code::InvalidArgument);
        assert_eq!(violated_fields(&status), [field]);
    }
    expect_code(f.server.dispatch().suggest_engineers(authed(&f.engineer, ask)).await, Code::PermissionDenied);
}

/// Escalates `ticket` until experts must take it.
async fn escalate_to_experts(f: &Fixture, ticket: &pb::Ticket) {
    let mut tier = ticket.tier;
    while tier < pb::Tier::Expert as i32 {
        let escalate = pb::EscalateTicketRequest {
            request_id: request_id(),
            id: ticket.id.clone(),
            reason: "needs R&D".into(),
            ..Default::default()
        };
        let escalated = f.server.tickets().escalate_ticket(authed(&f.manager, escalate)).await;
        tier = escalated.unwrap_or_else(|e| panic!("{e}")).into_inner().tier;
    }
}

async fn slip_suggestions_need_the_tier_and_widen_when_urgent(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::Urgent).await;
    let slip = f.verified_slip(&ticket).await;
    escalate_to_experts(&f, &ticket).await;
    let ask = pb::SuggestEngineersRequest { slip_id: slip.id.clone(), ..Default::default() };
    let nobody = f.server.dispatch().suggest_engineers(authed(&f.manager, ask.clone())).await;
    let nobody = nobody.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert!(nobody.suggestions.is_empty());
    assert!(nobody.urgent);
    assert_eq!(nobody.search_radius_km, 300.0, "urgent slips search three times as far");
    let reasons: Vec<&str> = nobody.exclusions.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons, ["TIER_TOO_LOW", "TIER_TOO_LOW"], "the fixture's field engineers");
    let assign = || pb::AutoAssignRequest { request_id: request_id(), slip_id: slip.id.clone(), etag: String::new() };
    let refused = f.server.dispatch().auto_assign(authed(&f.manager, assign())).await;
    assert_eq!(reason(&expect_code(refused, Code::FailedPrecondition)), "NO_SUITABLE_ENGINEER");

    // An expert 150 km away: outside the normal 100 km, inside the urgent 300 km.
    let expert =
        engineer(&f, Spec { tier: pb::Tier::Expert, ..Spec::new("E1", (31.2046 + 150.0 / 111.2, 121.5996)) }).await;
    let answer = f.server.dispatch().suggest_engineers(authed(&f.manager, ask)).await;
    let answer = answer.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(
        answer.suggestions.first().and_then(|s| s.engineer.as_ref()).map(|e| e.id.as_str()),
        Some(expert.id.as_str())
    );
    let assigned = f.server.dispatch().auto_assign(authed(&f.manager, assign())).await;
    let assigned = assigned.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(assigned.engineer_id, expert.id);
    assert_eq!(assigned.state, pb::SlipState::Dispatched as i32);
    let history = f
        .server
        .slips()
        .list_slip_events(authed(&f.manager, pb::ListSlipEventsRequest { id: slip.id.clone() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert!(history.events.last().is_some_and(|e| e.detail.starts_with("auto-assigned to engineer")));
}

/// Suggestions keep the ticket's urgency and the engineers' records between calls; a change
/// to either shows in the very next suggestion.
async fn suggestions_follow_changes_to_the_ticket_and_the_engineers(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::General).await;
    let slip = f.verified_slip(&ticket).await;
    let suggest = || {
        let mut dispatch = f.server.dispatch();
        // Within the fixture engineers' weekday shift.
        let window = Some(monday_window(10, 2));
        let ask = pb::SuggestEngineersRequest { slip_id: slip.id.clone(), window, ..Default::default() };
        let request = authed(&f.manager, ask);
        async move { dispatch.suggest_engineers(request).await.unwrap_or_else(|e| panic!("{e}")).into_inner() }
    };
    let general = suggest().await;
    assert!(!general.urgent);
    assert_eq!(general.search_radius_km, 100.0);
    let first = general.suggestions.first().and_then(|s| s.engineer.clone());
    let first = first.unwrap_or_else(|| panic!("the fixture's engineers suit the slip: {general:?}"));

    // The severity raised: the next suggestion is urgent and searches three times as far.
    let raise = pb::UpdateTicketRequest {
        request_id: request_id(),
        ticket: Some(pb::Ticket { id: ticket.id.clone(), severity: pb::Severity::Urgent as i32, ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["severity".into()] }),
    };
    f.server.tickets().update_ticket(authed(&f.manager, raise)).await.unwrap_or_else(|e| panic!("{e}"));
    let urgent = suggest().await;
    assert!(urgent.urgent, "the raised severity counts at once");
    assert_eq!(urgent.search_radius_km, 300.0);

    // The engineer renamed: the next suggestion shows the new name.
    let rename = pb::UpdateEngineerRequest {
        request_id: request_id(),
        engineer: Some(pb::Engineer {
            id: first.id.clone(),
            etag: first.etag.clone(),
            name: "Renamed Engineer".into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["name".into()] }),
    };
    f.server.engineers().update_engineer(authed(&f.manager, rename)).await.unwrap_or_else(|e| panic!("{e}"));
    let renamed = suggest().await;
    let shown = renamed.suggestions.iter().filter_map(|s| s.engineer.as_ref()).find(|e| e.id == first.id);
    assert_eq!(shown.map(|e| e.name.as_str()), Some("Renamed Engineer"));

    // The ticket escalated to the experts: the field engineers are left out for their tier.
    escalate_to_experts(&f, &ticket).await;
    let escalated = suggest().await;
    assert!(escalated.suggestions.is_empty(), "{escalated:?}");
    let excluded = escalated.exclusions.iter().find(|e| e.engineer_id == first.id);
    assert_eq!(excluded.map(|e| (e.reason.as_str(), e.name.as_str())), Some(("TIER_TOO_LOW", "Renamed Engineer")));
}

async fn concurrent_bookings_of_one_engineer_one_wins(backend: Backend) {
    let f = Fixture::new(backend).await;
    for round in 0..4u32 {
        let a = confirmed(&f, &f.engineer_id, &f.engineer).await;
        let b = confirmed(&f, &f.engineer_id, &f.engineer).await;
        // Two dispatchers book overlapping windows for the same engineer at the same instant.
        let (first, second) = (monday_window(8 + 3 * round, 2), monday_window(9 + 3 * round, 2));
        let (mut c1, mut c2) = (f.server.slips(), f.server.slips());
        let (ra, rb) = tokio::join!(
            c1.book_appointment(authed(&f.manager, book(&a.id, first))),
            c2.book_appointment(authed(&f.manager, book(&b.id, second))),
        );
        let (won, lost, loser) = match (ra, rb) {
            (Ok(won), Err(lost)) => (won.into_inner(), lost, &b),
            (Err(lost), Ok(won)) => (won.into_inner(), lost, &a),
            (ra, rb) => panic!("round {round}: exactly one booking must win: {ra:?} / {rb:?}"),
        };
        assert_eq!(lost.code(), Code::FailedPrecondition, "{lost:?}");
        let info = lost.get_error_details().error_info().cloned().unwrap_or_else(|| panic!("no ErrorInfo"));
        assert_eq!(info.reason, "DOUBLE_BOOKED");
        assert_eq!(info.metadata.get("conflicting_slip_id"), Some(&won.id), "the error names the appointment");
        assert!(lost.message().contains(&won.ticket_number), "{}", lost.message());
        let unbooked = f.server.slips().get_slip(authed(&f.manager, pb::GetSlipRequest { id: loser.id.clone() })).await;
        assert_eq!(unbooked.unwrap_or_else(|e| panic!("{e}")).into_inner().state, pb::SlipState::Confirmed as i32);
    }
    // Rescheduling into another appointment is refused the same way.
    let a = confirmed(&f, &f.engineer_id, &f.engineer).await;
    let b = confirmed(&f, &f.engineer_id, &f.engineer).await;
    f.server
        .slips()
        .book_appointment(authed(&f.engineer, book(&a.id, monday_window(7, 1))))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    f.server
        .slips()
        .book_appointment(authed(&f.engineer, book(&b.id, monday_window(6, 1))))
        .await
        .unwrap_or_else(|e| panic!("back to back: {e}"));
    let moved = f
        .server
        .slips()
        .reschedule_appointment(authed(
            &f.engineer,
            pb::RescheduleAppointmentRequest {
                request_id: request_id(),
                slip_id: b.id.clone(),
                window: Some(monday_window(7, 2)),
                reason: "customer asked".into(),
                customer_informed: true,
                ..Default::default()
            },
        ))
        .await;
    assert_eq!(reason(&expect_code(moved, Code::FailedPrecondition)), "DOUBLE_BOOKED");
    // Another engineer may take the same window.
    let c = confirmed(&f, &f.other_engineer_id, &f.other_engineer).await;
    f.server
        .slips()
        .book_appointment(authed(&f.manager, book(&c.id, monday_window(7, 1))))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn an_engineers_appointments(backend: Backend) {
    let f = Fixture::new(backend).await;
    let a = confirmed(&f, &f.engineer_id, &f.engineer).await;
    let b = confirmed(&f, &f.engineer_id, &f.engineer).await;
    f.server
        .slips()
        .book_appointment(authed(&f.manager, book(&b.id, monday_window(13, 2))))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    f.server
        .slips()
        .book_appointment(authed(&f.manager, book(&a.id, monday_window(9, 2))))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let day = monday_window(0, 24);
    let mine = f
        .server
        .dispatch()
        .list_appointments(authed(
            &f.engineer,
            pb::ListAppointmentsRequest { engineer_id: String::new(), range: Some(day) },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let order: Vec<&str> = mine.appointments.iter().map(|e| e.slip_id.as_str()).collect();
    assert_eq!(order, [a.id.as_str(), b.id.as_str()], "by start time");
    assert_eq!(mine.appointments[0].state, pb::SlipState::Scheduled as i32);
    assert!(mine.appointments[0].ticket_number.starts_with("TS"));
    assert!(mine.appointments[0].site_position.is_some());
    let morning = monday_window(8, 2);
    let by_manager = f
        .server
        .dispatch()
        .list_appointments(authed(
            &f.manager,
            pb::ListAppointmentsRequest { engineer_id: f.engineer_id.clone(), range: Some(morning) },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(by_manager.appointments.len(), 1, "only what overlaps the range");
    let others = pb::ListAppointmentsRequest { engineer_id: f.engineer_id.clone(), range: Some(day) };
    expect_code(f.server.dispatch().list_appointments(authed(&f.other_engineer, others)).await, Code::NotFound);
    let too_long = pb::TimeWindow { end: monday_window(0, 24 * 40).end, ..day };
    let too_long = pb::ListAppointmentsRequest { engineer_id: String::new(), range: Some(too_long) };
    let status =
        expect_code(f.server.dispatch().list_appointments(authed(&f.engineer, too_long)).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["range.end"]);
}

/// The next event of a board stream, within a generous bound.
async fn next_event(stream: &mut tonic::Streaming<pb::BoardEvent>) -> pb::BoardEvent {
    match tokio::time::timeout(Duration::from_secs(20), stream.next()).await {
        Ok(Some(Ok(event))) => event,
        other => panic!("no board event: {other:?}"),
    }
}

fn slip_state(event: &pb::BoardEvent) -> Option<i32> {
    match &event.change {
        Some(pb::board_event::Change::Slip(slip)) => Some(slip.state),
        _ => None,
    }
}

async fn the_board_streams_and_resumes(backend: Backend) {
    let f = Fixture::new(backend).await;
    let mut live = f.server.board(&f.manager, "").await;
    let slip = dispatched(&f, &f.engineer_id).await;
    f.server
        .engineers()
        .report_location(authed(&f.engineer, report(vec![fix(31.2, 121.5, 0)])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let created = next_event(&mut live).await;
    assert_eq!(slip_state(&created), Some(pb::SlipState::Draft as i32));
    let verified = next_event(&mut live).await;
    assert_eq!(slip_state(&verified), Some(pb::SlipState::Verified as i32));
    let sent = next_event(&mut live).await;
    assert_eq!(slip_state(&sent), Some(pb::SlipState::Dispatched as i32));
    match &sent.change {
        Some(pb::board_event::Change::Slip(s)) => {
            assert_eq!((s.id.as_str(), s.engineer_id.as_str()), (slip.id.as_str(), f.engineer_id.as_str()));
            assert!(s.site_position.is_some());
        }
        other => panic!("{other:?}"),
    }
    let moved = next_event(&mut live).await;
    match &moved.change {
        Some(pb::board_event::Change::Engineer(e)) => {
            assert_eq!(e.id, f.engineer_id);
            assert_eq!(e.last_position.as_ref().map(|p| p.latitude), Some(31.2));
        }
        other => panic!("{other:?}"),
    }

    // A screen that reconnects resumes right after the last event it saw.
    let mut resumed = f.server.board(&f.manager, &created.cursor).await;
    let replayed = [next_event(&mut resumed).await, next_event(&mut resumed).await, next_event(&mut resumed).await];
    let cursors: Vec<&str> = replayed.iter().map(|e| e.cursor.as_str()).collect();
    assert_eq!(cursors, [verified.cursor.as_str(), sent.cursor.as_str(), moved.cursor.as_str()]);
    // And keeps streaming live events.
    let action = pb::SlipActionRequest { request_id: request_id(), slip_id: slip.id.clone(), etag: String::new() };
    f.server.slips().confirm_slip(authed(&f.engineer, action)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(slip_state(&next_event(&mut resumed).await), Some(pb::SlipState::Confirmed as i32));
    assert_eq!(slip_state(&next_event(&mut live).await), Some(pb::SlipState::Confirmed as i32));

    let bad =
        f.server.dispatch().watch_board(authed(&f.manager, pb::WatchBoardRequest { cursor: "yesterday".into() })).await;
    assert_eq!(violated_fields(&expect_code(bad, Code::InvalidArgument)), ["cursor"]);
    let engineer = f.server.dispatch().watch_board(authed(&f.engineer, pb::WatchBoardRequest::default())).await;
    expect_code(engineer, Code::PermissionDenied);
}

/// Two replicas on one PostgreSQL: what one replica commits, the other's index, board and
/// slip views follow within a few seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_follow_each_other() {
    let f = Fixture::new(Backend::Postgres).await;
    let mut config = onsite_server::Config::new(f.server.database_url.clone());
    config.dispatch_poll_interval = Duration::from_millis(200);
    let other = TestServer::start_with(config, None).await;
    let mut board = other.board(&f.manager, "").await;
    let expert = engineer(&f, Spec { tier: pb::Tier::Expert, ..Spec::new("R1", (45.0, 10.0)) }).await;
    // The engineer drives from Italy to Shanghai, as far as the index is concerned.
    let token = new_login(&f.server, &f.server.admin_token, "R1", pb::Role::Engineer, &expert.id).await;
    f.server
        .engineers()
        .report_location(authed(&token, report(vec![fix(31.25, 121.45, 0)])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ask = pb::SuggestEngineersRequest {
        position: Some(pb::GeoPoint { latitude: 31.25, longitude: 121.45 }),
        window: Some(monday_window(10, 1)),
        required_skills: vec!["payroll".into()],
        max_distance_km: 1.0,
        ..Default::default()
    };
    // The other replica broadcasts an event only after its index applied it.
    let created = next_event(&mut board).await;
    assert!(matches!(created.change, Some(pb::board_event::Change::Engineer(ref e)) if e.id == expert.id));
    let moved = next_event(&mut board).await;
    assert!(matches!(moved.change, Some(pb::board_event::Change::Engineer(ref e))
        if e.last_position.as_ref().is_some_and(|p| p.latitude == 31.25)));
    let answer = other.dispatch().suggest_engineers(authed(&f.manager, ask)).await;
    let answer = answer.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert!(
        answer.suggestions.iter().any(|s| s.engineer.as_ref().is_some_and(|e| e.id == expert.id)),
        "the other replica answers from the new position"
    );

    // A slip the other replica has looked up is read again there once it changed here.
    let slip = f.dispatched_slip(&f.engineer_id).await;
    let get = |server: &TestServer| {
        let mut slips = server.slips();
        let request = authed(&f.manager, pb::GetSlipRequest { id: slip.id.clone() });
        async move { slips.get_slip(request).await.unwrap_or_else(|e| panic!("{e}")).into_inner() }
    };
    assert_eq!(get(&other).await.state(), pb::SlipState::Dispatched);
    let action = pb::SlipActionRequest { request_id: request_id(), slip_id: slip.id.clone(), etag: String::new() };
    f.server.slips().confirm_slip(authed(&f.engineer, action)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(get(&f.server).await.state(), pb::SlipState::Confirmed, "the replica that changed it reads its write");
    while slip_state(&next_event(&mut board).await) != Some(pb::SlipState::Confirmed as i32) {}
    assert_eq!(get(&other).await.state(), pb::SlipState::Confirmed, "the other forgot its view with the event");
    other.stop().await;
}

/// Whereabouts are personal: an engineer reads their own record only, and another's answers as
/// no engineer at all. A skill search matches whole skills literally, whatever it contains.
async fn an_engineer_sees_only_themselves_and_skill_search_is_literal(backend: Backend) {
    let f = Fixture::new(backend).await;
    let get = |token: &str, id: &str| {
        let mut engineers = f.server.engineers();
        let request = authed(token, pb::GetEngineerRequest { id: id.to_owned() });
        async move { engineers.get_engineer(request).await }
    };
    let own = get(&f.engineer, &f.engineer_id).await.unwrap_or_else(|e| panic!("own record: {e}"));
    assert_eq!(own.into_inner().id, f.engineer_id);
    get(&f.manager, &f.other_engineer_id).await.unwrap_or_else(|e| panic!("the manager reads anyone: {e}"));
    let theirs = expect_code(get(&f.engineer, &f.other_engineer_id).await, Code::NotFound);
    let nobody = expect_code(get(&f.engineer, &uuid::Uuid::now_v7().to_string()).await, Code::NotFound);
    assert_eq!(reason(&theirs), reason(&nobody), "an existing engineer answers as a missing one");

    let search = |skill: String| {
        let mut engineers = f.server.engineers();
        let request = authed(&f.manager, pb::ListEngineersRequest { skill, ..Default::default() });
        async move { engineers.list_engineers(request).await }
    };
    let found = |r: Result<tonic::Response<pb::ListEngineersResponse>, tonic::Status>| {
        r.map(|r| r.into_inner().engineers.len()).unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(found(search("Payroll".into()).await), 2, "whole skills, case-blind");
    assert_eq!(found(search("%".into()).await), 0, "a wildcard is a character");
    assert_eq!(found(search("payrol_".into()).await), 0);
    assert_eq!(found(search("pay%".into()).await), 0);
    let huge = expect_code(search("x".repeat(1_000_000)).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&huge), ["skill"]);
}

/// Building the dispatch index reads engineers packed by the database, one JSON array a page:
/// every column comes back exactly as stored, whatever the text or the number.
async fn the_index_reads_engineers_as_stored(backend: Backend) {
    use onsite_server::store::entities::engineer;
    use sea_orm::{EntityTrait, QueryOrder};
    let f = Fixture::new(backend).await;
    let odd = pb::Engineer {
        employee_number: "Q-1".into(),
        name: "王磊 \"Lei\" \\ 𝄞 'x'".into(),
        phone: "+86 138 0000 0000".into(),
        tier: pb::Tier::Expert as i32,
        skills: vec!["payroll".into(), "data \"centre\"".into()],
        home_base: Some(pb::GeoPoint { latitude: 31.123456789012345, longitude: -0.000_001_234_567_890_123 }),
        shift: "Mon-Fri 08:30-12:00,13:00-17:30; Sat 09:00-12:00".into(),
        days_off: vec![pb::Date { year: 2026, month: 12, day: 24 }],
        ..Default::default()
    };
    let request = pb::CreateEngineerRequest { request_id: request_id(), engineer: Some(odd) };
    f.server.engineers().create_engineer(authed(&f.manager, request)).await.unwrap_or_else(|e| panic!("{e}"));
    let moved =
        pb::ReportLocationRequest { request_id: request_id(), reports: vec![fix(29.987654321098765, 120.5, 5)] };
    f.server.engineers().report_location(authed(&f.engineer, moved)).await.unwrap_or_else(|e| panic!("{e}"));

    let db = onsite_server::store::connect(&f.server.database_url).await.unwrap_or_else(|e| panic!("{e}"));
    let stored = engineer::Entity::find().order_by_asc(engineer::Column::Id).all(&db).await;
    let stored = stored.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.len(), 3);
    let page = |after: Option<String>, limit: u64| {
        let db = db.clone();
        async move { onsite_server::repo::engineers::page(&db, after.as_deref(), limit).await }
    };
    let all = page(None, 1_000).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all, stored);
    let first = page(None, 1).await.unwrap_or_else(|e| panic!("{e}"));
    let rest = page(first.last().map(|e| e.id.clone()), 10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!([first, rest].concat(), stored, "page after page");
    let none = page(stored.last().map(|e| e.id.clone()), 10).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(none.is_empty());
}
