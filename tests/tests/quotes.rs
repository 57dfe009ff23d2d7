//! Who pays, decided by rule, and quotes the customer accepts before billable work: over real
//! gRPC, on SQLite and on PostgreSQL, with every refusal and its reason.

use onsite_proto::v1 as pb;
use onsite_tests::expect::{expect_code, reason, violated_fields};
use onsite_tests::{Backend, Fixture, authed, request_id, signed_sign_off, window};
use tonic::Code;

onsite_tests::conformance!(
    backup_comes_before_the_fix_and_the_warranty_decides_who_pays,
    billable_work_needs_a_quote_the_customer_accepted,
    quotes_refuse_bad_input_and_the_wrong_people,
);

fn action(slip: &pb::Slip) -> pb::SlipActionRequest {
    pb::SlipActionRequest { request_id: request_id(), slip_id: slip.id.clone(), etag: String::new() }
}

fn line(kind: pb::CostKind, description: &str, part: &str, quantity: i32, minor: i64, currency: &str) -> pb::CostLine {
    pb::CostLine {
        kind: kind as i32,
        description: description.into(),
        part_number: part.into(),
        quantity,
        unit_price: Some(pb::Money { minor_units: minor, currency_code: currency.into() }),
        // What the client says is ignored: the rules decide.
        billable: true,
        ..Default::default()
    }
}

fn fuser(quantity: i32) -> pb::CostLine {
    line(pb::CostKind::Part, "Fuser unit", "FU-1", quantity, 45_000, "CNY")
}

fn labour() -> pb::CostLine {
    line(pb::CostKind::Labour, "Labour, 2 h", "", 1, 30_000, "CNY")
}

/// A slip of `ticket` at `site_id`, walked by the fixture's engineer to on site.
async fn on_site(f: &Fixture, ticket: &pb::Ticket, site_id: &str) -> pb::Slip {
    let e = &f.engineer;
    let mut slips = f.server.slips();
    let slip = f.dispatched_slip_at(ticket, site_id, &f.engineer_id).await;
    slips.confirm_slip(authed(e, action(&slip))).await.unwrap_or_else(|e| panic!("{e}"));
    let book = pb::BookAppointmentRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        window: Some(window(1)),
        contact_name: "Ms. Zhou".into(),
        ..Default::default()
    };
    slips.book_appointment(authed(e, book)).await.unwrap_or_else(|e| panic!("{e}"));
    slips.start_travel(authed(e, action(&slip))).await.unwrap_or_else(|e| panic!("{e}"));
    let check_in = pb::CheckInRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        etag: String::new(),
        position: Some(pb::GeoPoint { latitude: 31.2046, longitude: 121.5996 }),
    };
    slips.check_in(authed(e, check_in)).await.unwrap_or_else(|e| panic!("{e}")).into_inner()
}

fn backup_request(slip: &pb::Slip) -> pb::LogBackupRequest {
    pb::LogBackupRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        backup: Some(pb::BackupRecord {
            kind: pb::BackupKind::Backup as i32,
            location: "external disk given to Ms. Zhou".into(),
            ..onsite_tests::visit::wire_backup()
        }),
    }
}

fn fix_request(slip: &pb::Slip, root_cause: pb::RootCause) -> pb::RecordFixRequest {
    pb::RecordFixRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        fix: Some(pb::FixRecord {
            outcome: pb::FixOutcome::Resolved as i32,
            root_cause: root_cause as i32,
            cause: "Fuser worn out".into(),
            solution: "Replaced the fuser".into(),
            time_spent_minutes: 60,
            ..Default::default()
        }),
    }
}

fn parts_request(slip: &pb::Slip, lines: Vec<pb::CostLine>) -> pb::AddPartsCostRequest {
    pb::AddPartsCostRequest { request_id: request_id(), slip_id: slip.id.clone(), lines }
}

fn cover(slip: &pb::Slip) -> pb::Cover {
    slip.warranty.as_ref().map_or(pb::Cover::Unspecified, pb::Warranty::cover)
}

fn decision(quote: &pb::Quote, accepted: bool) -> pb::DecideQuoteRequest {
    pb::DecideQuoteRequest {
        request_id: request_id(),
        quote_id: quote.id.clone(),
        etag: quote.etag.clone(),
        accepted,
        channel: pb::QuoteChannel::Phone as i32,
        decided_by_name: "Ms. Zhou".into(),
        confirmation: "Called the desk at 10:05 and accepted the price".into(),
    }
}

async fn backup_comes_before_the_fix_and_the_warranty_decides_who_pays(backend: Backend) {
    let f = Fixture::new(backend).await;
    let e = &f.engineer;
    let mut slips = f.server.slips();
    // The fixture's product is in warranty until 2027-03-01.
    let ticket = f.ticket(pb::Severity::General).await;
    let slip = on_site(&f, &ticket, &f.site_id).await;
    assert_eq!(slip.warranty.as_ref().and_then(|w| w.last_day), Some(pb::Date { year: 2027, month: 3, day: 1 }));
    assert_eq!(cover(&slip), pb::Cover::Undecided, "in warranty, the root cause decides");

    let early = slips.record_fix(authed(e, fix_request(&slip, pb::RootCause::MaterialDefect))).await;
    assert_eq!(reason(&expect_code(early, Code::FailedPrecondition)), "BACKUP_REQUIRED", "backup first");
    slips.log_backup(authed(e, backup_request(&slip))).await.unwrap_or_else(|e| panic!("{e}"));
    let undiagnosed = slips.add_parts_cost(authed(e, parts_request(&slip, vec![fuser(1)]))).await;
    assert_eq!(reason(&expect_code(undiagnosed, Code::FailedPrecondition)), "ROOT_CAUSE_REQUIRED");

    // A defect of material in warranty: free, whatever the client says.
    let fixed = slips
        .record_fix(authed(e, fix_request(&slip, pb::RootCause::MaterialDefect)))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(cover(&fixed), pb::Cover::Free);
    let costed = slips
        .add_parts_cost(authed(e, parts_request(&slip, vec![fuser(1), labour()])))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(costed.cost_lines.len(), 2, "the cost is still recorded");
    assert!(costed.cost_lines.iter().all(|l| !l.billable), "in warranty nothing is billable: {:?}", costed.cost_lines);

    // The desk overrides the rule for one line, with a reason kept on the line and audited.
    let taxi = costed.cost_lines[1].id.clone();
    let overriding = |billable: bool, reason: &str| pb::OverrideBillableRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        etag: String::new(),
        line_id: taxi.clone(),
        billable,
        reason: reason.into(),
    };
    let unsaid = slips.override_billable(authed(&f.manager, overriding(true, " "))).await;
    assert_eq!(violated_fields(&expect_code(unsaid, Code::InvalidArgument)), ["reason"]);
    let by_engineer = slips.override_billable(authed(e, overriding(true, "I say so"))).await;
    expect_code(by_engineer, Code::PermissionDenied);
    let same = slips.override_billable(authed(&f.manager, overriding(false, "no change"))).await;
    assert_eq!(reason(&expect_code(same, Code::FailedPrecondition)), "BILLABLE_UNCHANGED");
    let unknown = pb::OverrideBillableRequest { line_id: uuid::Uuid::now_v7().to_string(), ..overriding(true, "x") };
    expect_code(slips.override_billable(authed(&f.manager, unknown)).await, Code::NotFound);
    let why = "the customer asked for the express courier, not covered by the contract";
    let overridden = slips
        .override_billable(authed(&f.manager, overriding(true, why)))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let line = overridden.cost_lines.iter().find(|l| l.id == taxi).unwrap_or_else(|| panic!("the line"));
    assert!(line.billable && line.billable_override_reason == why, "{line:?}");
    assert!(overridden.cost_lines.iter().filter(|l| l.id != taxi).all(|l| !l.billable), "only that line");
    let events = slips
        .list_slip_events(authed(&f.manager, pb::ListSlipEventsRequest { id: slip.id.clone() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .events;
    assert!(events.iter().any(|ev| ev.action == "override_billable" && ev.detail.contains(why)), "{events:?}");

    // The diagnosis changes to a usage error: the warranty does not cover it.
    let usage = slips
        .record_fix(authed(e, fix_request(&slip, pb::RootCause::OperationUsage)))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(cover(&usage), pb::Cover::CauseNotCovered);
    let uncovered = slips.add_parts_cost(authed(e, parts_request(&slip, vec![labour()]))).await;
    let status = expect_code(uncovered, Code::FailedPrecondition);
    assert_eq!(reason(&status), "QUOTE_REQUIRED");
    assert!(status.message().contains("lines[0]"), "{}", status.message());
}

async fn billable_work_needs_a_quote_the_customer_accepted(backend: Backend) {
    let f = Fixture::new(backend).await;
    let (m, e) = (&f.manager, &f.engineer);
    let (mut slips, mut quotes) = (f.server.slips(), f.server.quotes());
    let (ticket, site_id) = f.lapsed_ticket().await;
    let slip = on_site(&f, &ticket, &site_id).await;
    assert_eq!(cover(&slip), pb::Cover::WarrantyEnded);
    slips.log_backup(authed(e, backup_request(&slip))).await.unwrap_or_else(|e| panic!("{e}"));
    slips
        .record_fix(authed(e, fix_request(&slip, pb::RootCause::MaterialDefect)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let unquoted = slips.add_parts_cost(authed(e, parts_request(&slip, vec![fuser(2)]))).await;
    assert_eq!(reason(&expect_code(unquoted, Code::FailedPrecondition)), "QUOTE_REQUIRED");

    // The engineer quotes; the customer declines it on the phone to the desk.
    let create = |lines| pb::CreateQuoteRequest { request_id: request_id(), slip_id: slip.id.clone(), lines };
    let first =
        quotes.create_quote(authed(e, create(vec![fuser(2)]))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(first.total, Some(pb::Money { minor_units: 90_000, currency_code: "CNY".into() }));
    assert!(!first.accepted && !first.rejected);
    let declined =
        quotes.decide_quote(authed(m, decision(&first, false))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert!(declined.rejected && !declined.accepted);
    assert_eq!(declined.channel, pb::QuoteChannel::Phone as i32);
    let again = quotes.decide_quote(authed(m, decision(&declined, true))).await;
    assert_eq!(reason(&expect_code(again, Code::FailedPrecondition)), "QUOTE_DECIDED", "a quote is decided once");
    let still = slips.add_parts_cost(authed(e, parts_request(&slip, vec![fuser(2)]))).await;
    assert_eq!(
        reason(&expect_code(still, Code::FailedPrecondition)),
        "QUOTE_REQUIRED",
        "a declined quote covers nothing"
    );

    // A second quote, exact to the fen, accepted by e-mail.
    let second = quotes
        .create_quote(authed(
            e,
            create(vec![fuser(2), labour(), line(pb::CostKind::Travel, "Taxi", "", 1, 8_650, "cny")]),
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(second.total.as_ref().map(|t| (t.minor_units, t.currency_code.as_str())), Some((128_650, "CNY")));
    let by_mail = pb::DecideQuoteRequest { channel: pb::QuoteChannel::Email as i32, ..decision(&second, true) };
    let accepted = quotes.decide_quote(authed(m, by_mail)).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert!(accepted.accepted && accepted.decided_at.is_some());
    assert_eq!(accepted.decided_by_name, "Ms. Zhou");
    let seen = quotes
        .get_quote(authed(e, pb::GetQuoteRequest { id: second.id.clone() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(seen, accepted, "the engineer reads the decision");

    // Covered lines go in, billable; more than was quoted does not.
    let more = slips.add_parts_cost(authed(e, parts_request(&slip, vec![fuser(3)]))).await;
    assert_eq!(reason(&expect_code(more, Code::FailedPrecondition)), "QUOTE_REQUIRED");
    let costed = slips
        .add_parts_cost(authed(e, parts_request(&slip, vec![fuser(2), labour()])))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert!(costed.cost_lines.iter().all(|l| l.billable));
    assert_eq!(
        costed.quotes.iter().map(|q| (q.accepted, q.rejected)).collect::<Vec<_>>(),
        [(false, true), (true, false)]
    );

    // The visit completes, and the quotes are in the slip's audit trail.
    let png = onsite_tests::signature_png(1);
    let sign_off = pb::SignOff {
        signer_name: "Ms. Zhou".into(),
        satisfaction: pb::Satisfaction::Satisfied as i32,
        ..Default::default()
    };
    let request = signed_sign_off(&f.server, e, &slip.id, sign_off, &png).await;
    slips.capture_sign_off(authed(e, request)).await.unwrap_or_else(|e| panic!("sign-off: {e}"));
    let done = slips.complete_slip(authed(e, action(&slip))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(done.state, pb::SlipState::Completed as i32);
    let events = slips
        .list_slip_events(authed(m, pb::ListSlipEventsRequest { id: slip.id.clone() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .events;
    let quoted: Vec<&str> = events.iter().map(|e| e.action.as_str()).filter(|a| a.ends_with("_quote")).collect();
    assert_eq!(quoted, ["create_quote", "reject_quote", "create_quote", "accept_quote"]);
    assert!(events.iter().any(|e| e.action == "accept_quote" && e.detail.contains("1286.50 CNY")), "{events:?}");
}

async fn quotes_refuse_bad_input_and_the_wrong_people(backend: Backend) {
    let f = Fixture::new(backend).await;
    let (m, e, other) = (&f.manager, &f.engineer, &f.other_engineer);
    let mut quotes = f.server.quotes();
    let (ticket, site_id) = f.lapsed_ticket().await;
    let slip = on_site(&f, &ticket, &site_id).await;
    let create = |lines| pb::CreateQuoteRequest { request_id: request_id(), slip_id: slip.id.clone(), lines };

    let mixed = quotes
        .create_quote(authed(e, create(vec![fuser(1), line(pb::CostKind::Travel, "Taxi", "", 1, 900, "EUR")])))
        .await;
    assert_eq!(violated_fields(&expect_code(mixed, Code::InvalidArgument)), ["lines[1].unit_price.currency_code"]);
    let empty = quotes.create_quote(authed(e, create(Vec::new()))).await;
    assert_eq!(violated_fields(&expect_code(empty, Code::InvalidArgument)), ["lines"]);
    let zero = quotes.create_quote(authed(e, create(vec![fuser(0)]))).await;
    assert_eq!(violated_fields(&expect_code(zero, Code::InvalidArgument)), ["lines[0].quantity"]);
    let bad_slip = pb::CreateQuoteRequest { slip_id: "nope".into(), ..create(vec![fuser(1)]) };
    assert_eq!(
        violated_fields(&expect_code(quotes.create_quote(authed(e, bad_slip)).await, Code::InvalidArgument)),
        ["slip_id"]
    );
    // Another engineer's slip does not exist for them.
    expect_code(quotes.create_quote(authed(other, create(vec![fuser(1)]))).await, Code::NotFound);

    let quote =
        quotes.create_quote(authed(e, create(vec![fuser(1)]))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    expect_code(quotes.get_quote(authed(other, pb::GetQuoteRequest { id: quote.id.clone() })).await, Code::NotFound);
    expect_code(quotes.decide_quote(authed(e, decision(&quote, true))).await, Code::PermissionDenied);
    let unsaid = pb::DecideQuoteRequest { channel: 0, decided_by_name: String::new(), ..decision(&quote, true) };
    assert_eq!(
        violated_fields(&expect_code(quotes.decide_quote(authed(m, unsaid)).await, Code::InvalidArgument)),
        ["channel", "decided_by_name"]
    );
    let on_device = pb::DecideQuoteRequest { channel: pb::QuoteChannel::OnDevice as i32, ..decision(&quote, true) };
    assert_eq!(
        violated_fields(&expect_code(quotes.decide_quote(authed(m, on_device)).await, Code::InvalidArgument)),
        ["channel"]
    );
    let stale = pb::DecideQuoteRequest { etag: "\"7\"".into(), ..decision(&quote, true) };
    expect_code(quotes.decide_quote(authed(m, stale)).await, Code::Aborted);
    expect_code(
        quotes.get_quote(authed(m, pb::GetQuoteRequest { id: uuid::Uuid::now_v7().to_string() })).await,
        Code::NotFound,
    );

    // A retried decision answers the first result; a cancelled slip takes no quotes.
    let once = decision(&quote, true);
    let first = quotes.decide_quote(authed(m, once.clone())).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let retried = quotes.decide_quote(authed(m, once)).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(first, retried);
    let cancel = pb::ReasonRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        etag: String::new(),
        reason: "customer bought a new one".into(),
    };
    f.server.slips().cancel_slip(authed(m, cancel)).await.unwrap_or_else(|e| panic!("{e}"));
    let late = quotes.create_quote(authed(m, create(vec![fuser(1)]))).await;
    assert_eq!(reason(&expect_code(late, Code::FailedPrecondition)), "SLIP_NOT_OPEN");
}
