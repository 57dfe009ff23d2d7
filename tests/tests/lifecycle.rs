//! The ticket-to-slip lifecycle over real gRPC, on SQLite and on PostgreSQL.

use onsite_proto::v1 as pb;
use onsite_tests::expect::{expect_code, reason, violated_fields};
use onsite_tests::{Backend, Fixture, authed, request_id, signed_sign_off, window};
use tonic::Code;

onsite_tests::conformance!(
    whole_visit_from_intake_to_written_off,
    decline_returns_the_slip_and_it_can_be_redispatched,
    cancel_and_closing_rules,
    unresolved_visit_needs_follow_up_or_escalation,
    retried_mutations_return_the_first_result,
    stale_etags_are_aborted,
    bad_input_names_the_field,
    roles_and_assignment_are_enforced,
    ticket_numbers_are_unique_under_concurrency,
    lists_filter_and_paginate,
    manual_escalation_climbs_to_tier_three,
    concurrent_retries_apply_once,
    concurrent_transitions_on_one_etag_let_one_win,
    concurrent_slips_of_one_ticket_get_distinct_visits,
    a_slip_says_what_the_visit_is_for,
    only_completed_or_cancelled_slips_are_written_off,
    the_desk_queue_puts_bugs_first_then_severity_then_age,
    a_slip_list_shows_a_change_at_once,
);

/// Slip lists are answered from memory until a slip changes: the next list after a change
/// shows it, for every filter.
async fn a_slip_list_shows_a_change_at_once(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::General).await;
    let slip = f.slip(&ticket).await;
    let mut slips = f.server.slips();
    let list = |state: pb::SlipState| pb::ListSlipsRequest { state: state as i32, ..Default::default() };
    let ids = |r: Result<tonic::Response<pb::ListSlipsResponse>, tonic::Status>| {
        r.unwrap_or_else(|e| panic!("{e}")).into_inner().slips.into_iter().map(|s| (s.id, s.state)).collect::<Vec<_>>()
    };
    let drafts = ids(slips.list_slips(authed(&f.manager, list(pb::SlipState::Draft))).await);
    assert_eq!(drafts, [(slip.id.clone(), pb::SlipState::Draft as i32)]);
    // Asked again, the same answer.
    assert_eq!(ids(slips.list_slips(authed(&f.manager, list(pb::SlipState::Draft))).await), drafts);
    slips.verify_slip(authed(&f.manager, action(&slip))).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(ids(slips.list_slips(authed(&f.manager, list(pb::SlipState::Draft))).await).is_empty());
    let all = ids(slips.list_slips(authed(&f.manager, pb::ListSlipsRequest::default())).await);
    assert_eq!(all, [(slip.id.clone(), pb::SlipState::Verified as i32)]);
    let second = f.slip(&ticket).await;
    let all = ids(slips.list_slips(authed(&f.manager, pb::ListSlipsRequest::default())).await);
    assert_eq!(all.len(), 2, "a new slip is listed at once");
    assert_eq!(all[0].0, second.id, "newest first");

    // Kept pages go out as they were encoded: to a client that compresses its requests too,
    // and with the same errors.
    let mut zipped = f.server.slips().send_compressed(tonic::codec::CompressionEncoding::Gzip);
    assert_eq!(ids(zipped.list_slips(authed(&f.manager, pb::ListSlipsRequest::default())).await), all);
    let bad = pb::ListSlipsRequest { ticket_id: "not-an-id".into(), ..Default::default() };
    let refused = expect_code(slips.list_slips(authed(&f.manager, bad)).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["ticket_id"]);
    expect_code(slips.list_slips(tonic::Request::new(pb::ListSlipsRequest::default())).await, Code::Unauthenticated);
}

fn action(slip: &pb::Slip) -> pb::SlipActionRequest {
    pb::SlipActionRequest { request_id: request_id(), slip_id: slip.id.clone(), etag: slip.etag.clone() }
}

/// Manager verifies and dispatches to the fixture's engineer, who confirms.
async fn dispatched_and_confirmed(f: &Fixture, slip: pb::Slip) -> pb::Slip {
    let verified =
        f.server.slips().verify_slip(authed(&f.manager, action(&slip))).await.unwrap_or_else(|e| panic!("{e}"));
    dispatched_and_confirmed_from_verified(f, verified.into_inner()).await
}

/// Manager dispatches a verified slip to the fixture's engineer, who confirms.
async fn dispatched_and_confirmed_from_verified(f: &Fixture, slip: pb::Slip) -> pb::Slip {
    let mut slips = f.server.slips();
    let slip = slips
        .dispatch_slip(authed(
            &f.manager,
            pb::DispatchSlipRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: slip.etag.clone(),
                engineer_id: f.engineer_id.clone(),
                reason: String::new(),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("dispatch: {e}"))
        .into_inner();
    assert_eq!(slip.state, pb::SlipState::Dispatched as i32);
    slips.confirm_slip(authed(&f.engineer, action(&slip))).await.unwrap_or_else(|e| panic!("confirm: {e}")).into_inner()
}

/// The engineer's whole visit up to completion, with the given fix outcome.
async fn visit(f: &Fixture, slip: pb::Slip, outcome: pb::FixOutcome) -> pb::Slip {
    let mut slips = f.server.slips();
    let e = &f.engineer;
    let slip = slips
        .book_appointment(authed(
            e,
            pb::BookAppointmentRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: slip.etag.clone(),
                window: Some(window(2)),
                contact_name: "Ms. Zhou".into(),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("book: {e}"))
        .into_inner();
    let slip = slips
        .reschedule_appointment(authed(
            e,
            pb::RescheduleAppointmentRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: slip.etag.clone(),
                window: Some(window(-1)),
                reason: "customer asked for earlier".into(),
                customer_informed: true,
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("reschedule: {e}"))
        .into_inner();
    assert_eq!(slip.appointment.as_ref().map(|a| a.reschedule_count), Some(1));
    let slip =
        slips.start_travel(authed(e, action(&slip))).await.unwrap_or_else(|e| panic!("travel: {e}")).into_inner();
    let slip = slips
        .check_in(authed(
            e,
            pb::CheckInRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: slip.etag.clone(),
                position: Some(pb::GeoPoint { latitude: 31.2046, longitude: 121.5996 }),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("check in: {e}"))
        .into_inner();
    assert_eq!(slip.state, pb::SlipState::OnSite as i32);
    assert_eq!(slip.appointment.as_ref().map(|a| a.on_time), Some(true));
    let complete_early = slips.complete_slip(authed(e, action(&slip))).await;
    assert_eq!(reason(&expect_code(complete_early, Code::FailedPrecondition)), "BACKUP_REQUIRED");
    slips
        .log_backup(authed(
            e,
            pb::LogBackupRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                backup: Some(pb::BackupRecord {
                    kind: pb::BackupKind::Backup as i32,
                    location: "external disk given to Ms. Zhou".into(),
                    ..onsite_tests::visit::wire_backup()
                }),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("backup: {e}"));
    slips
        .record_fix(authed(
            e,
            pb::RecordFixRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                fix: Some(pb::FixRecord {
                    outcome: outcome as i32,
                    // A defect of the product's software, in warranty: nothing is billable.
                    root_cause: pb::RootCause::SoftwareDefect as i32,
                    cause: "Two jobs locked the same table".into(),
                    solution: "Re-ordered the jobs".into(),
                    time_spent_minutes: 95,
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("fix: {e}"));
    slips
        .add_parts_cost(authed(
            e,
            pb::AddPartsCostRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                lines: vec![
                    pb::CostLine {
                        kind: pb::CostKind::Part as i32,
                        description: "SSD 512 GB".into(),
                        part_number: "SSD-512".into(),
                        quantity: 1,
                        unit_price: Some(pb::Money { minor_units: 45_000, currency_code: "CNY".into() }),
                        ..Default::default()
                    },
                    pb::CostLine {
                        kind: pb::CostKind::Travel as i32,
                        description: "Taxi to Pudong plant".into(),
                        quantity: 1,
                        unit_price: Some(pb::Money { minor_units: 8_650, currency_code: "CNY".into() }),
                        ..Default::default()
                    },
                ],
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("parts: {e}"));
    let sign_off = pb::SignOff {
        signer_name: "Ms. Zhou".into(),
        satisfaction: pb::Satisfaction::VerySatisfied as i32,
        service_quality_rating: 5,
        ..Default::default()
    };
    let request = signed_sign_off(&f.server, e, &slip.id, sign_off, &onsite_tests::signature_png(0)).await;
    let signed =
        slips.capture_sign_off(authed(e, request)).await.unwrap_or_else(|e| panic!("sign-off: {e}")).into_inner();
    assert!(signed.sign_off.as_ref().is_some_and(|s| s.verified), "the device signature verified");
    slips.complete_slip(authed(e, action(&signed))).await.unwrap_or_else(|e| panic!("complete: {e}")).into_inner()
}

async fn whole_visit_from_intake_to_written_off(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::Urgent).await;
    assert!(ticket.number.starts_with("TS") && ticket.number.ends_with("-0001"), "{}", ticket.number);
    assert_eq!((ticket.status, ticket.tier), (pb::TicketStatus::Open as i32, pb::Tier::ServiceDesk as i32));
    let sla = ticket.sla.unwrap_or_default();
    assert!(sla.respond_by.is_some() && sla.resolve_by.is_some() && sla.responded_at.is_none());

    let slip = f.slip(&ticket).await;
    assert_eq!((slip.state, slip.visit_number), (pb::SlipState::Draft as i32, 1));
    let slip = dispatched_and_confirmed(&f, slip).await;
    let slip = visit(&f, slip, pb::FixOutcome::Resolved).await;
    assert_eq!(slip.state, pb::SlipState::Completed as i32);
    assert_eq!(slip.backups.len(), 1);
    assert_eq!(slip.cost_lines.iter().map(|c| c.unit_price.as_ref().map_or(0, |p| p.minor_units)).sum::<i64>(), 53_650);
    assert_eq!(slip.fix.as_ref().map(|f| f.outcome), Some(pb::FixOutcome::Resolved as i32));
    assert_eq!(slip.sign_off.as_ref().map(|s| s.signer_name.as_str()), Some("Ms. Zhou"));

    let written = f
        .server
        .slips()
        .write_off_slip(authed(
            &f.manager,
            pb::WriteOffSlipRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: slip.etag.clone(),
                outcome: pb::WriteOffOutcome::Resolved as i32,
                note: "solved on first visit".into(),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("write off: {e}"))
        .into_inner();
    assert_eq!(written.slip.as_ref().map(|s| s.state), Some(pb::SlipState::WrittenOff as i32));
    assert!(written.follow_up.is_none());
    let ticket_after = written.ticket.unwrap_or_default();
    assert_eq!(ticket_after.status, pb::TicketStatus::Resolved as i32);
    let sla = ticket_after.sla.unwrap_or_default();
    assert!(sla.responded_at.is_some() && sla.resolved_at.is_some());

    let closed = f
        .server
        .tickets()
        .close_ticket(authed(
            &f.manager,
            pb::CloseTicketRequest {
                request_id: request_id(),
                id: ticket.id.clone(),
                etag: String::new(),
                resolution_note: "Job order fixed".into(),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("close: {e}"))
        .into_inner();
    assert_eq!(closed.status, pb::TicketStatus::Closed as i32);

    let events = f
        .server
        .slips()
        .list_slip_events(authed(&f.manager, pb::ListSlipEventsRequest { id: slip.id.clone() }))
        .await
        .unwrap_or_else(|e| panic!("events: {e}"))
        .into_inner()
        .events;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "create",
            "verify",
            "dispatch",
            "confirm",
            "book_appointment",
            "reschedule",
            "start_travel",
            "check_in",
            "log_backup",
            "record_fix",
            "add_parts_cost",
            "capture_sign_off",
            "complete",
            "write_off",
        ]
    );
    let confirm = &events[3];
    assert_eq!(
        (confirm.from_state, confirm.to_state),
        (pb::SlipState::Dispatched as i32, pb::SlipState::Confirmed as i32)
    );
    assert_eq!(confirm.actor_role, pb::Role::Engineer as i32);
    assert!(!confirm.request_id.is_empty() && confirm.server_time.is_some());

    let history = f
        .server
        .tickets()
        .list_ticket_events(authed(&f.manager, pb::ListTicketEventsRequest { id: ticket.number.clone() }))
        .await
        .unwrap_or_else(|e| panic!("ticket events: {e}"))
        .into_inner()
        .events;
    let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["created", "slip_opened", "resolved", "closed"]);
}

async fn decline_returns_the_slip_and_it_can_be_redispatched(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::Important).await;
    let slip = dispatched_and_confirmed(&f, f.slip(&ticket).await).await;
    let mut slips = f.server.slips();
    let blank = slips
        .decline_slip(authed(
            &f.engineer,
            pb::ReasonRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: String::new(),
                reason: " ".into(),
            },
        ))
        .await;
    assert_eq!(violated_fields(&expect_code(blank, Code::InvalidArgument)), ["reason"]);
    let declined = slips
        .decline_slip(authed(
            &f.engineer,
            pb::ReasonRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: String::new(),
                reason: "on sick leave tomorrow".into(),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("decline: {e}"))
        .into_inner();
    assert_eq!((declined.state, declined.engineer_id.as_str()), (pb::SlipState::Declined as i32, ""));
    assert_eq!(declined.decline_reason, "on sick leave tomorrow");
    // The declining engineer no longer sees it; the manager sends it to someone else.
    let gone = slips.get_slip(authed(&f.engineer, pb::GetSlipRequest { id: slip.id.clone() })).await;
    expect_code(gone, Code::NotFound);
    let redispatched = slips
        .dispatch_slip(authed(
            &f.manager,
            pb::DispatchSlipRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: declined.etag.clone(),
                engineer_id: f.other_engineer_id.clone(),
                reason: String::new(),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("redispatch: {e}"))
        .into_inner();
    assert_eq!(redispatched.engineer_id, f.other_engineer_id);
    let confirmed = slips
        .confirm_slip(authed(&f.other_engineer, action(&redispatched)))
        .await
        .unwrap_or_else(|e| panic!("confirm: {e}"))
        .into_inner();
    assert_eq!(confirmed.state, pb::SlipState::Confirmed as i32);
}

async fn cancel_and_closing_rules(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::General).await;
    let slip = f.slip(&ticket).await;
    let mut tickets = f.server.tickets();
    let close = |id: &str| pb::CloseTicketRequest {
        request_id: request_id(),
        id: id.into(),
        etag: String::new(),
        resolution_note: "customer solved it".into(),
    };
    let blocked = tickets.close_ticket(authed(&f.manager, close(&ticket.id))).await;
    assert_eq!(reason(&expect_code(blocked, Code::FailedPrecondition)), "TICKET_HAS_OPEN_SLIPS");
    let mut slips = f.server.slips();
    let by_engineer = slips
        .cancel_slip(authed(
            &f.engineer,
            pb::ReasonRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: String::new(),
                reason: "not needed".into(),
            },
        ))
        .await;
    // A slip the engineer never had answers as no slip at all.
    assert_eq!(reason(&expect_code(by_engineer, Code::NotFound)), "NOT_FOUND");
    let cancelled = slips
        .cancel_slip(authed(
            &f.manager,
            pb::ReasonRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: slip.etag.clone(),
                reason: "customer solved it by phone".into(),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("cancel: {e}"))
        .into_inner();
    assert_eq!(cancelled.state, pb::SlipState::Cancelled as i32);
    let again = slips.verify_slip(authed(&f.manager, action(&cancelled))).await;
    assert_eq!(reason(&expect_code(again, Code::FailedPrecondition)), "INVALID_TRANSITION");
    let closed = tickets.close_ticket(authed(&f.manager, close(&ticket.id))).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(closed.into_inner().status, pb::TicketStatus::Closed as i32);
    let new_slip = slips
        .create_slip(authed(
            &f.manager,
            pb::CreateSlipRequest {
                request_id: request_id(),
                ticket_id: ticket.id.clone(),
                site_id: f.site_id.clone(),
                instructions: "again".into(),
                required_skills: vec![],
                ..Default::default()
            },
        ))
        .await;
    assert_eq!(reason(&expect_code(new_slip, Code::FailedPrecondition)), "TICKET_CLOSED");
}

async fn unresolved_visit_needs_follow_up_or_escalation(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::Urgent).await;
    let slip = visit(&f, dispatched_and_confirmed(&f, f.slip(&ticket).await).await, pb::FixOutcome::Unresolved).await;
    let mut slips = f.server.slips();
    let write_off = |outcome: pb::WriteOffOutcome, slip: &pb::Slip| pb::WriteOffSlipRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        etag: slip.etag.clone(),
        outcome: outcome as i32,
        note: "needs the vendor's patch".into(),
    };
    let resolved = slips.write_off_slip(authed(&f.manager, write_off(pb::WriteOffOutcome::Resolved, &slip))).await;
    assert_eq!(reason(&expect_code(resolved, Code::FailedPrecondition)), "UNRESOLVED_NEEDS_FOLLOW_UP");
    let done = slips
        .write_off_slip(authed(&f.manager, write_off(pb::WriteOffOutcome::FollowUp, &slip)))
        .await
        .unwrap_or_else(|e| panic!("follow-up: {e}"))
        .into_inner();
    let follow_up = done.follow_up.unwrap_or_default();
    assert_eq!((follow_up.visit_number, follow_up.state), (2, pb::SlipState::Verified as i32));
    assert_eq!(follow_up.follow_up_of, slip.id);
    assert_eq!(follow_up.required_skills, ["payroll"]);

    // The second visit fails too: this time the ticket goes to the experts.
    let second =
        visit(&f, dispatched_and_confirmed_from_verified(&f, follow_up).await, pb::FixOutcome::PartlyResolved).await;
    let escalated = slips
        .write_off_slip(authed(&f.manager, write_off(pb::WriteOffOutcome::Escalate, &second)))
        .await
        .unwrap_or_else(|e| panic!("escalate: {e}"))
        .into_inner();
    assert!(escalated.follow_up.is_none());
    assert_eq!(escalated.ticket.map(|t| t.tier), Some(pb::Tier::Expert as i32));
    let list = slips
        .list_slips(authed(&f.manager, pb::ListSlipsRequest { ticket_id: ticket.id.clone(), ..Default::default() }))
        .await
        .unwrap_or_else(|e| panic!("list: {e}"))
        .into_inner();
    assert_eq!(list.slips.len(), 2);
    assert!(list.slips.iter().all(|s| s.state == pb::SlipState::WrittenOff as i32 && s.ticket_number == ticket.number));
}

async fn retried_mutations_return_the_first_result(backend: Backend) {
    let f = Fixture::new(backend).await;
    let id = request_id();
    let create = pb::CreateTicketRequest { request_id: id.clone(), ticket: Some(f.intake(pb::Severity::General)) };
    let mut tickets = f.server.tickets();
    let first =
        tickets.create_ticket(authed(&f.manager, create.clone())).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let retry =
        tickets.create_ticket(authed(&f.manager, create.clone())).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(first, retry);
    let listed = tickets
        .list_tickets(authed(&f.manager, pb::ListTicketsRequest::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(listed.tickets.len(), 1, "the retry must not create a second ticket");
    let mut changed = create;
    if let Some(t) = changed.ticket.as_mut() {
        t.title = "Another title".into();
    }
    let reused = tickets.create_ticket(authed(&f.manager, changed)).await;
    let status = expect_code(reused, Code::InvalidArgument);
    assert_eq!(
        (reason(&status), violated_fields(&status)),
        ("REQUEST_ID_REUSED".to_owned(), vec!["request_id".to_owned()])
    );

    // A transition retried after it succeeded returns the same slip, not INVALID_TRANSITION.
    let slip = f.slip(&first).await;
    let verify = action(&slip);
    let mut slips = f.server.slips();
    let a = slips.verify_slip(authed(&f.manager, verify.clone())).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let b = slips.verify_slip(authed(&f.manager, verify)).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(a, b);
    let events = slips
        .list_slip_events(authed(&f.manager, pb::ListSlipEventsRequest { id: slip.id.clone() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .events;
    assert_eq!(events.iter().filter(|e| e.action == "verify").count(), 1);

    // Tokens: a retry returns the token id but never the secret again.
    let user = f
        .server
        .admin()
        .who_am_i(authed(&f.manager, pb::WhoAmIRequest {}))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let token_request = pb::CreateTokenRequest { request_id: request_id(), user_id: user.id, label: "desk".into() };
    let mut admin = f.server.admin();
    let issued = admin
        .create_token(authed(&f.server.admin_token, token_request.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let again = admin
        .create_token(authed(&f.server.admin_token, token_request))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert!(issued.token.starts_with("onst_"));
    assert_eq!((again.token_id, again.token), (issued.token_id, String::new()));
}

async fn stale_etags_are_aborted(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::General).await;
    let mut tickets = f.server.tickets();
    let update = |title: &str, etag: &str| pb::UpdateTicketRequest {
        request_id: request_id(),
        ticket: Some(pb::Ticket {
            id: ticket.id.clone(),
            etag: etag.into(),
            title: title.into(),
            severity: pb::Severity::Urgent as i32,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["title".into(), "severity".into()] }),
    };
    let updated = tickets
        .update_ticket(authed(&f.manager, update("Payroll down", &ticket.etag)))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!((updated.title.as_str(), updated.severity), ("Payroll down", pb::Severity::Urgent as i32));
    assert_ne!(updated.etag, ticket.etag);
    // Urgent has a tighter resolution commitment than general.
    let due =
        |t: &pb::Ticket| t.sla.as_ref().and_then(|s| s.resolve_by.as_ref()).map(|ts| ts.seconds).unwrap_or_default();
    assert!(due(&updated) < due(&ticket));
    let stale = tickets.update_ticket(authed(&f.manager, update("Lost update", &ticket.etag))).await;
    assert_eq!(reason(&expect_code(stale, Code::Aborted)), "STALE_ETAG");

    let slip = f.slip(&ticket).await;
    let mut slips = f.server.slips();
    slips.verify_slip(authed(&f.manager, action(&slip))).await.unwrap_or_else(|e| panic!("{e}"));
    let stale_slip = slips
        .cancel_slip(authed(
            &f.manager,
            pb::ReasonRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: slip.etag.clone(),
                reason: "dup".into(),
            },
        ))
        .await;
    expect_code(stale_slip, Code::Aborted);
}

async fn bad_input_names_the_field(backend: Backend) {
    let f = Fixture::new(backend).await;
    let mut tickets = f.server.tickets();
    let mut intake = f.intake(pb::Severity::Unspecified);
    intake.symptoms.clear();
    let missing = tickets
        .create_ticket(authed(&f.manager, pb::CreateTicketRequest { request_id: request_id(), ticket: Some(intake) }))
        .await;
    assert_eq!(violated_fields(&expect_code(missing, Code::InvalidArgument)), ["ticket.severity", "ticket.symptoms"]);

    let mut intake = f.intake(pb::Severity::General);
    intake.customer_id = uuid::Uuid::now_v7().to_string();
    let unknown = tickets
        .create_ticket(authed(&f.manager, pb::CreateTicketRequest { request_id: request_id(), ticket: Some(intake) }))
        .await;
    assert_eq!(violated_fields(&expect_code(unknown, Code::InvalidArgument)), ["ticket.customer_id"]);

    let bad_id = tickets
        .create_ticket(authed(
            &f.manager,
            pb::CreateTicketRequest { request_id: "not-a-uuid".into(), ticket: Some(f.intake(pb::Severity::General)) },
        ))
        .await;
    assert_eq!(violated_fields(&expect_code(bad_id, Code::InvalidArgument)), ["request_id"]);

    let bad_site = f
        .server
        .customers()
        .create_customer(authed(
            &f.manager,
            pb::CreateCustomerRequest {
                request_id: request_id(),
                customer: Some(pb::Customer {
                    name: "Bad Geo Ltd".into(),
                    sites: vec![pb::Site {
                        name: "Nowhere".into(),
                        address: "x".into(),
                        position: Some(pb::GeoPoint { latitude: 95.0, longitude: 0.0 }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
        ))
        .await;
    assert_eq!(violated_fields(&expect_code(bad_site, Code::InvalidArgument)), ["customer.sites[0].position.latitude"]);

    let ticket = f.ticket(pb::Severity::General).await;
    let slip = dispatched_and_confirmed(&f, f.slip(&ticket).await).await;
    let bad_window = f
        .server
        .slips()
        .book_appointment(authed(
            &f.engineer,
            pb::BookAppointmentRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: String::new(),
                window: Some(pb::TimeWindow { start: window(3).start, end: window(1).start }),
                contact_name: "Ms. Zhou".into(),
            },
        ))
        .await;
    assert_eq!(violated_fields(&expect_code(bad_window, Code::InvalidArgument)), ["window.end"]);
    let bad_mask = tickets
        .update_ticket(authed(
            &f.manager,
            pb::UpdateTicketRequest {
                request_id: request_id(),
                ticket: Some(pb::Ticket { id: ticket.id.clone(), ..Default::default() }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["number".into()] }),
            },
        ))
        .await;
    assert_eq!(violated_fields(&expect_code(bad_mask, Code::InvalidArgument)), ["update_mask.paths"]);
    let bad_token = tickets
        .list_tickets(authed(&f.manager, pb::ListTicketsRequest { page_token: "%%%".into(), ..Default::default() }))
        .await;
    assert_eq!(violated_fields(&expect_code(bad_token, Code::InvalidArgument)), ["page_token"]);
}

async fn roles_and_assignment_are_enforced(backend: Backend) {
    let f = Fixture::new(backend).await;
    let mut tickets = f.server.tickets();
    let anonymous = tickets.create_ticket(tonic::Request::new(pb::CreateTicketRequest::default())).await;
    expect_code(anonymous, Code::Unauthenticated);
    let forged = tickets.get_ticket(authed("onst_forged", pb::GetTicketRequest { id: "TS20260101-0001".into() })).await;
    expect_code(forged, Code::Unauthenticated);
    let by_engineer = tickets
        .create_ticket(authed(
            &f.engineer,
            pb::CreateTicketRequest { request_id: request_id(), ticket: Some(f.intake(pb::Severity::General)) },
        ))
        .await;
    expect_code(by_engineer, Code::PermissionDenied);

    let ticket = f.ticket(pb::Severity::General).await;
    let slip = f.slip(&ticket).await;
    let mut slips = f.server.slips();
    let verified =
        slips.verify_slip(authed(&f.manager, action(&slip))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let dispatched = slips
        .dispatch_slip(authed(
            &f.manager,
            pb::DispatchSlipRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: verified.etag,
                engineer_id: f.engineer_id.clone(),
                reason: String::new(),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let stranger = slips.confirm_slip(authed(&f.other_engineer, action(&dispatched))).await;
    assert_eq!(reason(&expect_code(stranger, Code::NotFound)), "NOT_FOUND");
    let manager_confirms = slips.confirm_slip(authed(&f.manager, action(&dispatched))).await;
    expect_code(manager_confirms, Code::PermissionDenied);

    // Engineers see only their own slips and their tickets.
    let mine = slips
        .list_slips(authed(&f.engineer, pb::ListSlipsRequest::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(mine.slips.len(), 1);
    let theirs = slips
        .list_slips(authed(&f.other_engineer, pb::ListSlipsRequest::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert!(theirs.slips.is_empty());
    let peek = slips
        .list_slips(authed(
            &f.other_engineer,
            pb::ListSlipsRequest { engineer_id: f.engineer_id.clone(), ..Default::default() },
        ))
        .await;
    expect_code(peek, Code::PermissionDenied);
    tickets
        .get_ticket(authed(&f.engineer, pb::GetTicketRequest { id: ticket.id.clone() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let other_ticket =
        tickets.get_ticket(authed(&f.other_engineer, pb::GetTicketRequest { id: ticket.id.clone() })).await;
    expect_code(other_ticket, Code::NotFound);
    // The customer's archive likewise: only for engineers with a slip there.
    let mut customers = f.server.customers();
    let customer = pb::GetCustomerRequest { id: f.customer_id.clone() };
    customers.get_customer(authed(&f.engineer, customer.clone())).await.unwrap_or_else(|e| panic!("{e}"));
    let other_customer = customers.get_customer(authed(&f.other_engineer, customer)).await;
    expect_code(other_customer, Code::NotFound);
    let not_admin = f
        .server
        .admin()
        .create_user(authed(
            &f.manager,
            pb::CreateUserRequest {
                request_id: request_id(),
                user: Some(pb::User { name: "x".into(), role: pb::Role::Admin as i32, ..Default::default() }),
            },
        ))
        .await;
    expect_code(not_admin, Code::PermissionDenied);
}

async fn ticket_numbers_are_unique_under_concurrency(backend: Backend) {
    let f = Fixture::new(backend).await;
    let mut calls = Vec::new();
    for _ in 0..24 {
        let mut client = f.server.tickets();
        let request = authed(
            &f.manager,
            pb::CreateTicketRequest { request_id: request_id(), ticket: Some(f.intake(pb::Severity::General)) },
        );
        calls.push(tokio::spawn(async move { client.create_ticket(request).await }));
    }
    let mut serials = Vec::new();
    for call in calls {
        let ticket = call.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}")).into_inner();
        let serial: u32 = ticket.number.rsplit('-').next().and_then(|s| s.parse().ok()).unwrap_or_default();
        serials.push(serial);
    }
    serials.sort_unstable();
    assert_eq!(serials, (1..=24).collect::<Vec<u32>>());
}

async fn lists_filter_and_paginate(backend: Backend) {
    let f = Fixture::new(backend).await;
    for severity in [
        pb::Severity::Urgent,
        pb::Severity::General,
        pb::Severity::Urgent,
        pb::Severity::Important,
        pb::Severity::Urgent,
    ] {
        f.ticket(severity).await;
    }
    let mut tickets = f.server.tickets();
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = tickets
            .list_tickets(authed(
                &f.manager,
                pb::ListTicketsRequest {
                    page_size: 2,
                    page_token: token.clone(),
                    severity: pb::Severity::Urgent as i32,
                    ..Default::default()
                },
            ))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_inner();
        assert!(page.tickets.len() <= 2);
        seen.extend(page.tickets.iter().map(|t| (t.number.clone(), t.severity)));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        let mixed = tickets
            .list_tickets(authed(
                &f.manager,
                pb::ListTicketsRequest { page_size: 2, page_token: token.clone(), ..Default::default() },
            ))
            .await;
        assert_eq!(violated_fields(&expect_code(mixed, Code::InvalidArgument)), ["page_token"]);
    }
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|(_, s)| *s == pb::Severity::Urgent as i32));
    assert!(seen.windows(2).all(|w| w[0].0 > w[1].0), "newest first: {seen:?}");
    let open = tickets
        .list_tickets(authed(
            &f.manager,
            pb::ListTicketsRequest {
                status: pb::TicketStatus::Open as i32,
                customer_id: f.customer_id.clone(),
                sla_breached: Some(false),
                ..Default::default()
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(open.tickets.len(), 5);
    let breached = tickets
        .list_tickets(authed(&f.manager, pb::ListTicketsRequest { sla_breached: Some(true), ..Default::default() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert!(breached.tickets.is_empty());
}

async fn manual_escalation_climbs_to_tier_three(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::Important).await;
    let mut tickets = f.server.tickets();
    let escalate = || pb::EscalateTicketRequest {
        request_id: request_id(),
        id: ticket.id.clone(),
        etag: String::new(),
        reason: "needs database expertise".into(),
    };
    let t2 =
        tickets.escalate_ticket(authed(&f.manager, escalate())).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(t2.tier, pb::Tier::Field as i32);
    assert!(t2.sla.and_then(|s| s.responded_at).is_some(), "escalating answers the ticket");
    let t3 =
        tickets.escalate_ticket(authed(&f.manager, escalate())).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(t3.tier, pb::Tier::Expert as i32);
    let top = tickets.escalate_ticket(authed(&f.manager, escalate())).await;
    assert_eq!(reason(&expect_code(top, Code::FailedPrecondition)), "ALREADY_AT_TOP_TIER");
}

async fn concurrent_retries_apply_once(backend: Backend) {
    let f = Fixture::new(backend).await;
    let request = pb::CreateTicketRequest { request_id: request_id(), ticket: Some(f.intake(pb::Severity::Important)) };
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut client = f.server.tickets();
        let request = authed(&f.manager, request.clone());
        calls.push(tokio::spawn(async move { client.create_ticket(request).await }));
    }
    let mut ids = std::collections::HashSet::new();
    for call in calls {
        let ticket = call.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}")).into_inner();
        ids.insert(ticket.id);
    }
    assert_eq!(ids.len(), 1, "every retry answers with the one ticket");
    let listed = f
        .server
        .tickets()
        .list_tickets(authed(&f.manager, pb::ListTicketsRequest::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(listed.tickets.len(), 1);
}

async fn concurrent_transitions_on_one_etag_let_one_win(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::Urgent).await;
    let slip = f.slip(&ticket).await;
    let verified =
        f.server.slips().verify_slip(authed(&f.manager, action(&slip))).await.unwrap_or_else(|e| panic!("{e}"));
    let verified = verified.into_inner();
    // Two dispatchers send the same slip to different engineers at the same instant.
    let mut calls = Vec::new();
    for engineer in [&f.engineer_id, &f.other_engineer_id] {
        let mut client = f.server.slips();
        let request = authed(
            &f.manager,
            pb::DispatchSlipRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: verified.etag.clone(),
                engineer_id: engineer.clone(),
                reason: String::new(),
            },
        );
        calls.push(tokio::spawn(async move { client.dispatch_slip(request).await }));
    }
    let mut won = Vec::new();
    for call in calls {
        match call.await.unwrap_or_else(|e| panic!("{e}")) {
            Ok(slip) => won.push(slip.into_inner().engineer_id),
            Err(status) => assert_eq!(status.code(), Code::Aborted, "{status:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one dispatch wins");
    let current = f
        .server
        .slips()
        .get_slip(authed(&f.manager, pb::GetSlipRequest { id: slip.id.clone() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(current.engineer_id, won[0]);
}

async fn concurrent_slips_of_one_ticket_get_distinct_visits(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::Urgent).await;
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut client = f.server.slips();
        let request = authed(
            &f.manager,
            pb::CreateSlipRequest {
                request_id: request_id(),
                ticket_id: ticket.id.clone(),
                site_id: f.site_id.clone(),
                instructions: "parallel visit".into(),
                required_skills: vec![],
                ..Default::default()
            },
        );
        calls.push(tokio::spawn(async move { client.create_slip(request).await }));
    }
    let mut visits = Vec::new();
    for call in calls {
        let slip = call.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}")).into_inner();
        visits.push(slip.visit_number);
    }
    visits.sort_unstable();
    assert_eq!(visits, (1..=8).collect::<Vec<i32>>());
}

/// A slip is an installation, a repair or a maintenance visit; unset is a repair, and a kind
/// this server does not know is refused with the field named.
async fn a_slip_says_what_the_visit_is_for(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::General).await;
    let create = |kind: i32| pb::CreateSlipRequest {
        request_id: request_id(),
        ticket_id: ticket.id.clone(),
        site_id: f.site_id.clone(),
        instructions: "Commission the new line printer".into(),
        required_skills: vec![],
        kind,
    };
    let mut slips = f.server.slips();
    for (sent, kept) in [
        (pb::VisitKind::Installation, pb::VisitKind::Installation),
        (pb::VisitKind::Maintenance, pb::VisitKind::Maintenance),
        (pb::VisitKind::Unspecified, pb::VisitKind::Repair),
    ] {
        let slip = slips.create_slip(authed(&f.manager, create(sent as i32))).await;
        let slip = slip.unwrap_or_else(|e| panic!("{e}")).into_inner();
        assert_eq!(slip.kind(), kept);
        let read = slips.get_slip(authed(&f.manager, pb::GetSlipRequest { id: slip.id })).await;
        assert_eq!(read.unwrap_or_else(|e| panic!("{e}")).into_inner().kind(), kept);
    }
    let unknown = slips.create_slip(authed(&f.manager, create(42))).await;
    assert_eq!(violated_fields(&expect_code(unknown, Code::InvalidArgument)), ["kind"]);
}

/// Only completed or cancelled slips are written off; a cancelled visit solved nothing, so it
/// is written off with a follow-up slip or an escalation, never as resolved.
async fn only_completed_or_cancelled_slips_are_written_off(backend: Backend) {
    let f = Fixture::new(backend).await;
    let mut slips = f.server.slips();
    let slip = f.dispatched_slip(&f.engineer_id).await;
    let write_off = |outcome: pb::WriteOffOutcome| pb::WriteOffSlipRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        etag: String::new(),
        outcome: outcome as i32,
        note: "the engineer fell ill; another goes tomorrow".into(),
    };
    let open = slips.write_off_slip(authed(&f.manager, write_off(pb::WriteOffOutcome::FollowUp))).await;
    assert_eq!(reason(&expect_code(open, Code::FailedPrecondition)), "INVALID_TRANSITION");
    let cancel = pb::ReasonRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        etag: String::new(),
        reason: "the engineer fell ill".into(),
    };
    slips.cancel_slip(authed(&f.manager, cancel)).await.unwrap_or_else(|e| panic!("{e}"));
    let resolved = slips.write_off_slip(authed(&f.manager, write_off(pb::WriteOffOutcome::Resolved))).await;
    assert_eq!(reason(&expect_code(resolved, Code::FailedPrecondition)), "UNRESOLVED_NEEDS_FOLLOW_UP");
    let done = slips.write_off_slip(authed(&f.manager, write_off(pb::WriteOffOutcome::FollowUp))).await;
    let done = done.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(done.slip.map(|s| s.state()), Some(pb::SlipState::WrittenOff));
    let next = done.follow_up.unwrap_or_else(|| panic!("a follow-up slip"));
    assert_eq!(
        (next.state(), next.follow_up_of.as_str(), next.visit_number),
        (pb::SlipState::Verified, slip.id.as_str(), 2)
    );
    let again = slips.write_off_slip(authed(&f.manager, write_off(pb::WriteOffOutcome::Escalate))).await;
    assert_eq!(reason(&expect_code(again, Code::FailedPrecondition)), "INVALID_TRANSITION");
}

/// The desk's queue: bugs first, then by severity, then by submission time, page by page.
async fn the_desk_queue_puts_bugs_first_then_severity_then_age(backend: Backend) {
    let f = Fixture::new(backend).await;
    let mut tickets = f.server.tickets();
    let mut numbers = std::collections::HashMap::new();
    for (name, category, severity) in [
        ("general bug", pb::Category::Bug, pb::Severity::General),
        ("urgent change", pb::Category::ChangeRequest, pb::Severity::Urgent),
        ("urgent bug", pb::Category::Bug, pb::Severity::Urgent),
        ("important bug", pb::Category::Bug, pb::Severity::Important),
        ("general other", pb::Category::Other, pb::Severity::General),
        ("second general bug", pb::Category::Bug, pb::Severity::General),
    ] {
        let intake = pb::Ticket { title: name.into(), category: category as i32, ..f.intake(severity) };
        let create = pb::CreateTicketRequest { request_id: request_id(), ticket: Some(intake) };
        let ticket = tickets.create_ticket(authed(&f.manager, create)).await.unwrap_or_else(|e| panic!("{e}"));
        numbers.insert(ticket.into_inner().id, name);
    }
    let mut queue = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListTicketsRequest {
            page_size: 2,
            page_token,
            order: pb::TicketOrder::Queue as i32,
            ..Default::default()
        };
        let page = tickets.list_tickets(authed(&f.manager, request)).await.unwrap_or_else(|e| panic!("{e}"));
        let page = page.into_inner();
        queue.extend(page.tickets.iter().map(|t| numbers.get(&t.id).copied().unwrap_or("?")));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(
        queue,
        ["urgent bug", "important bug", "general bug", "second general bug", "urgent change", "general other"]
    );
    let newest = pb::ListTicketsRequest { page_size: 1, ..Default::default() };
    let newest = tickets.list_tickets(authed(&f.manager, newest)).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(newest.tickets.iter().map(|t| numbers[&t.id]).collect::<Vec<_>>(), ["second general bug"]);
    let other_order = pb::ListTicketsRequest {
        page_token: newest.next_page_token,
        order: pb::TicketOrder::Queue as i32,
        ..Default::default()
    };
    let mixed = tickets.list_tickets(authed(&f.manager, other_order)).await;
    assert_eq!(violated_fields(&expect_code(mixed, Code::InvalidArgument)), ["page_token"]);
    let unknown = pb::ListTicketsRequest { order: 9, ..Default::default() };
    assert_eq!(
        violated_fields(&expect_code(tickets.list_tickets(authed(&f.manager, unknown)).await, Code::InvalidArgument)),
        ["order"]
    );
}
