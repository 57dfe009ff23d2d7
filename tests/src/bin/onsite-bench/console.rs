//! The web console's benchmark: a national team's board (by default 10,000 engineers and
//! 2,000 open slips at sites over eastern China) and the fixture's small board as the
//! baseline, each measured in headless Chromium by `tests/browser/console_bench.py`: the
//! first render of the board, the time from a change on the server to the board showing it,
//! and the size of what the browser downloads.

use std::path::Path;
use std::process::Command;

use onsite_proto::v1 as pb;
use onsite_tests::{Backend, authed, request_id};

use crate::seed::{World, city};

/// Customers the open slips are spread over, one site each in its own city.
const CUSTOMERS: usize = 100;
/// Slips created at once while seeding.
const IN_FLIGHT: usize = 16;

/// Seeds both boards, runs the browser benchmark on each, and writes `console.json` to `out`.
pub fn run(rt: &tokio::runtime::Runtime, exe: &Path, engineers: usize, slips: usize, out: &Path) -> Result<(), String> {
    let env = [("ONSITE_RATE_LIMIT", "0")];
    println!("seeding the baseline board (the fixture) and a board of {engineers} engineers and {slips} open slips");
    let small = rt.block_on(World::start(exe, Backend::Sqlite, &env, 0));
    let large = rt.block_on(World::start(exe, Backend::Sqlite, &env, engineers));
    rt.block_on(open_slips(&large, slips));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".tools/py/bin/python");
    let script = root.join("tests/browser/console_bench.py");
    let status = Command::new(&python)
        .arg(&script)
        .args(["--baseline", &small.f.server.url().replace("localhost", "127.0.0.1"), &small.f.manager])
        .args(["--board", &large.f.server.url().replace("localhost", "127.0.0.1"), &large.f.manager])
        .arg("--out")
        .arg(out.join("console.json"))
        .status()
        .map_err(|e| format!("{}: {e} (cargo xtask setup installs it)", python.display()))?;
    if status.success() { Ok(()) } else { Err(format!("the console benchmark failed ({status})")) }
}

/// Opens `count` verified slips for customers across the country.
async fn open_slips(world: &World, count: usize) {
    let f = &world.f;
    let mut sites = Vec::with_capacity(CUSTOMERS);
    for k in 0..CUSTOMERS {
        let (latitude, longitude) = city(k + 1);
        let customer = pb::Customer {
            name: format!("Customer {k}"),
            sites: vec![pb::Site {
                name: format!("Plant {k}"),
                address: format!("{k} Industrial Rd"),
                position: Some(pb::GeoPoint { latitude, longitude }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let request = pb::CreateCustomerRequest { request_id: request_id(), customer: Some(customer) };
        let created = f.server.customers().create_customer(authed(&f.manager, request)).await;
        let created = created.unwrap_or_else(|e| panic!("create customer: {e}")).into_inner();
        sites.push((created.id.clone(), created.sites[0].id.clone()));
    }
    let mut running = tokio::task::JoinSet::new();
    for i in 0..count {
        if running.len() >= IN_FLIGHT {
            running.join_next().await;
        }
        let (customer_id, site_id) = sites[i % sites.len()].clone();
        let severity = [pb::Severity::Urgent, pb::Severity::Important, pb::Severity::General][i % 3];
        let intake = pb::Ticket { customer_id, product_id: String::new(), ..f.intake(severity) };
        let (mut tickets, mut slips, manager) = (f.server.tickets(), f.server.slips(), f.manager.clone());
        running.spawn(async move {
            let request = pb::CreateTicketRequest { request_id: request_id(), ticket: Some(intake) };
            let ticket = tickets.create_ticket(authed(&manager, request)).await;
            let ticket = ticket.unwrap_or_else(|e| panic!("create ticket: {e}")).into_inner();
            let request = pb::CreateSlipRequest {
                request_id: request_id(),
                ticket_id: ticket.id,
                site_id,
                instructions: "Diagnose on site; back up first".into(),
                required_skills: vec!["payroll".into()],
                ..Default::default()
            };
            let slip = slips.create_slip(authed(&manager, request)).await;
            let slip = slip.unwrap_or_else(|e| panic!("create slip: {e}")).into_inner();
            let verify = pb::SlipActionRequest { request_id: request_id(), slip_id: slip.id, etag: String::new() };
            slips.verify_slip(authed(&manager, verify)).await.unwrap_or_else(|e| panic!("verify: {e}"));
        });
    }
    running.join_all().await;
}
