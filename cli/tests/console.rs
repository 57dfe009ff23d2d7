//! `onsitectl` against a real server on loopback.

use onsite_proto::v1 as pb;
use onsite_tests::{Backend, Fixture, authed, monday_window, request_id};

async fn onsitectl(f: &Fixture, token: &str, args: &[&str]) -> (bool, String, String) {
    onsitectl_with(f, token, args, &[]).await
}

async fn onsitectl_with(f: &Fixture, token: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let server = format!("http://{}", f.server.addr);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_onsitectl"));
    command.args(["--server", &server]).args(args).env("ONSITE_TOKEN", token).envs(env.iter().copied());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("onsitectl: {e}"));
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (output.status.success(), text(output.stdout), text(output.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_tickets_slips_and_history() {
    let f = Fixture::new(Backend::Sqlite).await;
    let ticket = f.ticket(pb::Severity::Urgent).await;
    let slip = f.slip(&ticket).await;

    let (ok, out, _) = onsitectl(&f, &f.manager, &["whoami"]).await;
    assert!(ok && out.contains("Dispatch desk (manager)"), "{out}");

    let (ok, out, _) = onsitectl(&f, &f.manager, &["tickets"]).await;
    assert!(ok, "{out}");
    let row = out.lines().find(|l| l.starts_with(&ticket.number)).unwrap_or_else(|| panic!("no row in {out}"));
    assert!(row.contains("in_progress") && row.contains("Payroll run aborts"), "{row}");
    let (ok, out, _) = onsitectl(&f, &f.manager, &["tickets", "--breached"]).await;
    assert!(ok && out.contains("(none)"), "{out}");
    let (ok, out, _) = onsitectl(&f, &f.manager, &["tickets", "--queue", "--status", "in_progress"]).await;
    assert!(ok && out.contains(&ticket.number), "{out}");

    let (ok, out, _) = onsitectl(&f, &f.manager, &["ticket", &ticket.number]).await;
    assert!(ok && out.contains("created") && out.contains("slip_opened"), "{out}");
    let (ok, out, _) = onsitectl(&f, &f.manager, &["slip", &slip.id]).await;
    assert!(ok && out.contains("draft") && out.contains("create"), "{out}");
    let (ok, out, _) = onsitectl(&f, &f.manager, &["engineers"]).await;
    assert!(ok && out.contains("Wang Lei") && out.contains("Li Na"), "{out}");

    let (ok, _, err) = onsitectl(&f, "onst_wrong", &["tickets"]).await;
    assert!(!ok && err.contains("bearer token"), "{err}");
    let (ok, _, err) = onsitectl(&f, &f.manager, &["tickets", "--status", "lost"]).await;
    assert!(!ok && err.contains("unknown status"), "{err}");
}

/// An administrator's first steps: a new user sets a password with a setup code, signs in,
/// a manager issues a phone's enrolment code, and the admin reads the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_people_in_and_shows_the_audit_log() {
    let f = Fixture::new(Backend::Sqlite).await;
    let admin = f.server.admin_token.clone();
    let create = pb::CreateUserRequest {
        request_id: request_id(),
        user: Some(pb::User {
            name: "Ms. Qian".into(),
            login: "qian".into(),
            role: pb::Role::Manager as i32,
            ..Default::default()
        }),
    };
    let user =
        f.server.admin().create_user(authed(&admin, create)).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let issue = pb::IssueSetupCodeRequest { user_id: user.id };
    let code = f.server.admin().issue_setup_code(authed(&admin, issue)).await;
    let code = code.unwrap_or_else(|e| panic!("{e}")).into_inner().code;
    let password = [("ONSITE_PASSWORD", "qian's long password")];

    let (ok, out, err) = onsitectl_with(&f, "", &["setup", "--code", &code], &password).await;
    assert!(ok && out.contains("Ms. Qian (manager)") && out.contains("export ONSITE_TOKEN=onst_"), "{out}{err}");
    let (ok, out, err) = onsitectl_with(&f, "", &["--json", "sign-in", "--login", "QIAN"], &password).await;
    assert!(ok, "{err}");
    let answer: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let token = answer["token"].as_str().unwrap_or_default().to_owned();
    let (ok, out, _) = onsitectl(&f, &token, &["whoami"]).await;
    assert!(ok && out.contains("Ms. Qian (manager)"), "{out}");
    let wrong = [("ONSITE_PASSWORD", "not it")];
    let (ok, _, err) = onsitectl_with(&f, "", &["sign-in", "--login", "qian"], &wrong).await;
    assert!(!ok && err.contains("wrong"), "{err}");

    let (ok, out, err) = onsitectl(&f, &token, &["enrolment-code", "--engineer", &f.engineer_id]).await;
    assert!(ok && out.contains("enrolment code:") && out.contains("expires"), "{out}{err}");
    let (ok, out, err) = onsitectl(&f, &admin, &["audit", "--kind", "sign_in_failed"]).await;
    assert!(ok && out.contains("sign_in_failed") && out.contains("qian") && out.contains("127.0.0.1"), "{out}{err}");
    let (ok, _, err) = onsitectl(&f, &token, &["audit"]).await;
    assert!(!ok && err.contains("admin"), "{err}");
}

async fn verified_slip(f: &Fixture) -> pb::Slip {
    let ticket = f.ticket(pb::Severity::Important).await;
    let slip = f.slip(&ticket).await;
    let action = pb::SlipActionRequest { request_id: request_id(), slip_id: slip.id.clone(), etag: String::new() };
    f.server.slips().verify_slip(authed(&f.manager, action)).await.unwrap_or_else(|e| panic!("{e}")).into_inner()
}

fn rfc3339(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0)).map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// The dispatcher's day in the console: suggest, assign, book, the engineer's appointments,
/// auto-assign, the board (also live) and the map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatcher_works_from_the_console() {
    let f = Fixture::new(Backend::Sqlite).await;
    let slip = verified_slip(&f).await;
    let monday = monday_window(10, 2);
    let window = format!("{}/{}", rfc3339(monday.start.as_ref()), rfc3339(monday.end.as_ref()));

    let (ok, out, err) = onsitectl(&f, &f.manager, &["suggest", &slip.id, "--window", &window]).await;
    assert!(ok, "{err}");
    assert!(out.contains("Wang Lei") && out.contains("Li Na") && out.contains("(straight line)"), "{out}");
    let (ok, out, err) = onsitectl(&f, &f.manager, &["--json", "suggest", &slip.id, "--window", &window]).await;
    assert!(ok, "{err}");
    let answer: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let suggestions = answer["suggestions"].as_array().cloned().unwrap_or_default();
    assert_eq!(suggestions.len(), 2, "{out}");
    assert_eq!(suggestions[0]["rank"], "1");
    assert!(suggestions.iter().any(|s| s["no"] == "17"), "{out}");

    let (ok, out, err) = onsitectl(&f, &f.manager, &["assign", &slip.id, "17"]).await;
    assert!(ok && out.contains("state: dispatched") && out.contains(&f.engineer_id), "{out}{err}");
    let confirm = pb::SlipActionRequest { request_id: request_id(), slip_id: slip.id.clone(), etag: String::new() };
    f.server.slips().confirm_slip(authed(&f.engineer, confirm)).await.unwrap_or_else(|e| panic!("{e}"));
    let (ok, out, err) =
        onsitectl(&f, &f.manager, &["book", &slip.id, "--window", &window, "--contact", "Ms. Zhou"]).await;
    assert!(ok && out.contains("state: scheduled"), "{out}{err}");
    let (ok, _, err) = onsitectl(&f, &f.manager, &["book", &slip.id, "--window", "tomorrow"]).await;
    assert!(!ok && err.contains("START/END"), "{err}");

    let day = rfc3339(monday.start.as_ref())[..10].to_owned();
    let (ok, out, err) = onsitectl(&f, &f.manager, &["appointments", "17", "--from", &day]).await;
    assert!(ok && out.contains(&slip.ticket_number) && out.contains("Ms. Zhou"), "{out}{err}");

    // An engineer who works around the clock, right at the site: the best for a slip now.
    let at_site = pb::Engineer {
        employee_number: "24".into(),
        name: "Zhao Min".into(),
        tier: pb::Tier::Field as i32,
        skills: vec!["payroll".into()],
        home_base: Some(pb::GeoPoint { latitude: 31.2046, longitude: 121.5996 }),
        shift: "Mon-Sun 00:00-24:00".into(),
        ..Default::default()
    };
    f.server
        .engineers()
        .create_engineer(authed(
            &f.manager,
            pb::CreateEngineerRequest { request_id: request_id(), engineer: Some(at_site) },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut watcher = std::process::Command::new(env!("CARGO_BIN_EXE_onsitectl"))
        .args(["--server", &format!("http://{}", f.server.addr), "--json", "board", "--watch"])
        .env("ONSITE_TOKEN", &f.manager)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = watcher.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    // The watcher says when it is subscribed; events from then on reach it.
    let stderr = watcher.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let subscribed = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stderr).lines().map_while(|l| l.ok()).any(|l| l.starts_with("watching the board"))
    });
    let subscribed = tokio::time::timeout(std::time::Duration::from_secs(30), subscribed).await;
    assert!(subscribed.is_ok_and(|s| s.is_ok_and(|yes| yes)), "the watcher never subscribed");
    let second = verified_slip(&f).await;
    let (ok, out, err) = onsitectl(&f, &f.manager, &["auto-assign", &second.id]).await;
    assert!(ok && out.contains("state: dispatched"), "{out}{err}");
    let lines = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout).lines().map_while(|l| l.ok()).take(3).collect::<Vec<_>>()
    });
    let lines = tokio::time::timeout(std::time::Duration::from_secs(30), lines)
        .await
        .unwrap_or_else(|_| panic!("no board events from the watcher"))
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = watcher.kill();
    let _ = watcher.wait();
    let events: Vec<serde_json::Value> =
        lines.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let states: Vec<&str> = events.iter().filter_map(|e| e["state"].as_str()).collect();
    assert_eq!(states, ["draft", "verified", "dispatched"], "{lines:?}");
    assert_eq!(events[2]["engineer"], "24", "auto-assigned to the engineer at the site");

    let (ok, out, _) = onsitectl(&f, &f.manager, &["board"]).await;
    assert!(ok && out.contains(&slip.ticket_number) && out.contains("Zhao Min"), "{out}");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let svg_path = dir.path().join("board.svg");
    let svg_arg = svg_path.display().to_string();
    let (ok, out, err) = onsitectl(&f, &f.manager, &["map", "--out", &svg_arg]).await;
    assert!(ok && out.contains("open slips: 2"), "{out}{err}");
    let svg = std::fs::read_to_string(&svg_path).unwrap_or_else(|e| panic!("{e}"));
    assert!(svg.starts_with("<svg"));
    assert_eq!(svg.matches("<line ").count(), 2, "two assigned slips, two lines");
    assert_eq!(svg.matches("<circle cx").count(), 3 + 1, "three engineers plus the legend");
}

/// The desk works through its follow-ups on unhappy customers and closes one with what it did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_follows_up_unhappy_customers() {
    let f = Fixture::new(Backend::Sqlite).await;
    let unhappy = f.signed_off_slip(pb::Satisfaction::Dissatisfied, [2, 0, 0]).await;

    let (ok, out, err) = onsitectl(&f, &f.manager, &["follow-ups"]).await;
    assert!(ok, "{err}");
    let row = out.lines().find(|l| l.contains(&unhappy.ticket_number)).unwrap_or_else(|| panic!("no row in {out}"));
    assert!(row.contains("dissatisfied, service quality rated 2") && row.contains("open"), "{row}");
    let id = row.split_whitespace().last().unwrap_or_default().to_owned();

    let (ok, out, err) = onsitectl(&f, &f.manager, &["close-follow-up", &id, "--outcome", "Called Ms. Zhou"]).await;
    assert!(ok && out.contains("Called Ms. Zhou"), "{out}{err}");
    let (ok, out, _) = onsitectl(&f, &f.manager, &["follow-ups"]).await;
    assert!(ok && !out.contains(&unhappy.ticket_number), "closed ones leave the list: {out}");
    let (ok, out, _) = onsitectl(&f, &f.manager, &["--json", "follow-ups", "--all"]).await;
    assert!(ok && out.contains("closed: Called Ms. Zhou"), "{out}");
    let (ok, _, err) = onsitectl(&f, &f.manager, &["close-follow-up", &id, "--outcome", "again"]).await;
    assert!(!ok && err.contains("closed already"), "{err}");
}

/// The customer calls the desk to accept a quote the engineer drafted: the desk records it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_records_a_quote_the_customer_accepted_by_phone() {
    let f = Fixture::new(Backend::Sqlite).await;
    let (ticket, site_id) = f.lapsed_ticket().await;
    let slip = f.dispatched_slip_at(&ticket, &site_id, &f.engineer_id).await;
    let line = pb::CostLine {
        kind: pb::CostKind::Part as i32,
        description: "Power supply 750 W".into(),
        part_number: "PSU-750".into(),
        quantity: 1,
        unit_price: Some(pb::Money { minor_units: 65_000, currency_code: "CNY".into() }),
        ..Default::default()
    };
    let (ok, _, err) =
        onsitectl(&f, &f.manager, &["quote", &slip.id, "--line", "part:PSU-750:Power supply:1:6.505:CNY"]).await;
    assert!(!ok && err.contains("KIND:PART"), "{err}");
    let quoted = [
        "quote",
        &slip.id,
        "--line",
        "part:PSU-750:Power supply 750 W:1:650:CNY",
        "--line",
        "travel::Train:1:198.5:CNY",
    ];
    let (ok, out, err) = onsitectl(&f, &f.manager, &quoted).await;
    assert!(ok && out.contains("CNY 848.50"), "{out}{err}");
    let create = pb::CreateQuoteRequest { request_id: request_id(), slip_id: slip.id.clone(), lines: vec![line] };
    let quote = f.server.quotes().create_quote(authed(&f.manager, create)).await;
    let quote = quote.unwrap_or_else(|e| panic!("{e}")).into_inner();

    let args = ["decide-quote", &quote.id, "--channel", "fax", "--by", "Mr. Qian", "--note", "x"];
    let (ok, _, err) = onsitectl(&f, &f.manager, &args).await;
    assert!(!ok && err.contains("phone or email"), "{err}");
    let args = ["decide-quote", &quote.id, "--accept", "--by", "Mr. Qian", "--note", "Called at 14:10"];
    let (ok, out, err) = onsitectl(&f, &f.manager, &args).await;
    assert!(ok && out.contains("accepted") && out.contains("CNY 650.00"), "{out}{err}");
    let (ok, out, _) = onsitectl(&f, &f.manager, &["slip", &slip.id]).await;
    assert!(ok && out.contains("accepted by Mr. Qian") && out.contains("billable (out of warranty)"), "{out}");
}

/// A desk's day from the terminal: a fault report taken in, a visit opened and verified, the
/// ticket escalated, the visit cancelled and written off with a follow-up, and, once every
/// slip is written off, the ticket closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_runs_a_ticket_from_the_terminal() {
    let f = Fixture::new(Backend::Sqlite).await;
    let m = &f.manager;
    let field = |out: &str, name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(str::trim)
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no {name} in {out}"))
    };
    let intake = [
        "intake",
        "--customer",
        &f.customer_id,
        "--title",
        "Label printer jams",
        "--severity",
        "2",
        "--category",
        "bug",
        "--contact",
        "Ms. Zhou",
        "--symptoms",
        "Jams every tenth label",
        "--impact",
        "Packing line 2",
    ];
    let (ok, out, err) = onsitectl(&f, m, &intake).await;
    assert!(ok && out.contains("TICKET_STATUS_OPEN"), "{out}{err}");
    let number = field(&out, "number");
    let bad = ["intake", "--customer", &f.customer_id, "--title", "x", "--severity", "2", "--category", "gripe"];
    let (ok, _, err) =
        onsitectl(&f, m, &[&bad[..], &["--contact", "x", "--symptoms", "x", "--impact", "x"]].concat()).await;
    assert!(!ok && err.contains("bug, change or other"), "{err}");

    let open = ["open-slip", &number, "--site", &f.site_id, "--instructions", "Replace the roller", "--kind", "repair"];
    let (ok, out, err) = onsitectl(&f, m, &open).await;
    assert!(ok && out.contains("draft"), "{out}{err}");
    let slip = field(&out, "slip");
    let (ok, out, _) = onsitectl(&f, m, &["verify", &slip]).await;
    assert!(ok && out.contains("verified"), "{out}");
    let (ok, out, _) = onsitectl(&f, m, &["escalate", &number, "--reason", "needs a field engineer today"]).await;
    assert!(ok && out.contains("TIER_FIELD"), "{out}");

    let (ok, _, err) = onsitectl(&f, m, &["write-off", &slip, "--outcome", "follow-up"]).await;
    assert!(!ok && err.contains("cannot write_off a slip that is verified"), "only completed or cancelled: {err}");
    let cancel = pb::ReasonRequest {
        request_id: request_id(),
        slip_id: slip.clone(),
        etag: String::new(),
        reason: "the roller is out of stock".into(),
    };
    f.server.slips().cancel_slip(authed(m, cancel.clone())).await.unwrap_or_else(|e| panic!("{e}"));
    let (ok, out, err) =
        onsitectl(&f, m, &["write-off", &slip, "--outcome", "follow-up", "--note", "roller ordered"]).await;
    assert!(ok && out.contains("written_off"), "{out}{err}");
    let follow_up = field(&out, "follow-up slip");
    let (ok, _, err) = onsitectl(&f, m, &["close", &number, "--note", "solved by phone"]).await;
    assert!(!ok && err.contains("write off or cancel"), "the follow-up visit is still open: {err}");
    let cancel = pb::ReasonRequest { slip_id: follow_up, request_id: request_id(), ..cancel };
    f.server.slips().cancel_slip(authed(m, cancel)).await.unwrap_or_else(|e| panic!("{e}"));
    let (ok, out, err) = onsitectl(&f, m, &["close", &number, "--note", "the customer replaced the printer"]).await;
    assert!(ok && out.contains("TICKET_STATUS_CLOSED"), "{out}{err}");
}

/// A manager makes a free line billable against the rule, with the reason shown on the line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_overrides_a_line_with_a_reason() {
    let f = Fixture::new(Backend::Sqlite).await;
    let slip = f.signed_off_slip(pb::Satisfaction::Satisfied, [5, 5, 5]).await;
    let taxi = pb::CostLine {
        kind: pb::CostKind::Travel as i32,
        description: "Express courier".into(),
        quantity: 1,
        unit_price: Some(pb::Money { minor_units: 12_000, currency_code: "CNY".into() }),
        ..Default::default()
    };
    let parts = pb::AddPartsCostRequest { request_id: request_id(), slip_id: slip.id.clone(), lines: vec![taxi] };
    let costed = f.server.slips().add_parts_cost(authed(&f.engineer, parts)).await;
    let line = costed.unwrap_or_else(|e| panic!("{e}")).into_inner().cost_lines[0].id.clone();
    let why = "the customer asked for the courier";
    let (ok, out, err) = onsitectl(&f, &f.manager, &["override-billable", &slip.id, &line, "--reason", why]).await;
    assert!(ok && out.contains("billable: yes") && out.contains(why), "{out}{err}");
    let (ok, _, err) =
        onsitectl(&f, &f.engineer, &["override-billable", &slip.id, &line, "--free", "--reason", "x"]).await;
    assert!(!ok && err.to_lowercase().contains("permission"), "{err}");
}

/// The desk prints a visit's service report and the month's figures, as a table and as CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_prints_the_service_report_and_the_months_figures() {
    let f = Fixture::new(Backend::Sqlite).await;
    let slip = f.signed_off_slip(pb::Satisfaction::Satisfied, [5, 5, 5]).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pdf = dir.path().join("report.pdf");
    let path = pdf.to_string_lossy().into_owned();
    let (ok, out, err) = onsitectl(&f, &f.manager, &["report", &slip.id, "--out", &path, "--report-lang", "en"]).await;
    assert!(ok && out.contains("signature verified: yes"), "{out}{err}");
    let written = std::fs::read(&pdf).unwrap_or_default();
    assert!(written.starts_with(b"%PDF-") && written.len() < 200_000, "a PDF of {} bytes", written.len());
    let (ok, _, err) = onsitectl(&f, &f.manager, &["report", &slip.id, "--report-lang", "fr"]).await;
    assert!(!ok && err.contains("language"), "{err}");

    // The visit happened this month (the server's calendar is UTC).
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let (ok, out, err) = onsitectl(&f, &f.manager, &["stats", "--month", &month]).await;
    assert!(ok && out.contains("live (not archived yet)") && out.contains("Wang Lei"), "{out}{err}");
    let (ok, csv, err) = onsitectl(&f, &f.manager, &["stats", "--month", &month, "--csv"]).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert!(ok && lines.first().is_some_and(|h| h.starts_with("SCOPE,NAME,INSTALL VISITS")), "{csv}{err}");
    let team: Vec<&str> = lines.get(1).map(|l| l.split(',').collect()).unwrap_or_default();
    assert_eq!(team.get(..2), Some(&["team", "all"][..]), "{csv}");
    assert_eq!(team.get(5), Some(&"1"), "one repair visit: {csv}");
    let (ok, _, err) = onsitectl(&f, &f.manager, &["stats", "--month", "October"]).await;
    assert!(!ok && err.contains("YYYY-MM"), "{err}");
}
