//! `onsitectl` against a real server on loopback.

use onsite_proto::v1 as pb;
use onsite_tests::{Backend, Fixture};

async fn onsitectl(f: &Fixture, token: &str, args: &[&str]) -> (bool, String, String) {
    let server = format!("http://{}", f.server.addr);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_onsitectl"));
    command.args(["--server", &server]).args(args).env("ONSITE_TOKEN", token);
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
