//! Driving the server: calls kept in flight for a while, and a day of phones through the SDK.

use std::time::{Duration, Instant};

use onsite_proto::v1 as pb;
use onsite_sdk::{Config, Session};
use onsite_tests::authed;
use onsite_tests::visit::{fix, parts, span};
use tonic::transport::Channel;

use crate::seed::World;

/// Connections the calls are spread over (HTTP/2 multiplexes the rest).
const CONNECTIONS: usize = 8;

/// What is called.
#[derive(Clone, Copy, Debug)]
pub enum Call {
    Health,
    WhoAmI,
    GetSlip,
    ListSlips,
    Suggest,
}

/// Latencies of the calls that succeeded, and how many failed.
#[derive(Debug, Default)]
pub struct Driven {
    pub latencies: Vec<Duration>,
    pub errors: u64,
}

/// Keeps `concurrency` calls in flight for `window`.
pub async fn drive(world: &World, call: Call, concurrency: usize, window: Duration) -> Driven {
    let mut channels = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let endpoint =
            Channel::from_shared(format!("http://{}", world.f.server.addr)).unwrap_or_else(|e| panic!("{e}"));
        channels.push(endpoint.connect().await.unwrap_or_else(|e| panic!("connect: {e}")));
    }
    let deadline = Instant::now() + window;
    let mut tasks = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        let channel = channels[i % CONNECTIONS].clone();
        let token = world.f.manager.clone();
        let slips = world.slips.clone();
        let open_slip = world.open_slip.clone();
        tasks.push(tokio::spawn(async move {
            let mut driven = Driven::default();
            let mut n = i;
            while Instant::now() < deadline {
                n = n.wrapping_add(7);
                let started = Instant::now();
                let ok = once(&channel, call, &token, &slips[n % slips.len()], &open_slip).await;
                if ok {
                    driven.latencies.push(started.elapsed());
                } else {
                    driven.errors += 1;
                }
            }
            driven
        }));
    }
    let mut all = Driven::default();
    for task in tasks {
        if let Ok(driven) = task.await {
            all.latencies.extend(driven.latencies);
            all.errors += driven.errors;
        }
    }
    all
}

async fn once(channel: &Channel, call: Call, token: &str, slip: &str, open_slip: &str) -> bool {
    match call {
        Call::Health => {
            let mut client = tonic_health::pb::health_client::HealthClient::new(channel.clone());
            client.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.is_ok()
        }
        Call::WhoAmI => {
            let mut client = pb::admin_service_client::AdminServiceClient::new(channel.clone());
            client.who_am_i(authed(token, pb::WhoAmIRequest {})).await.is_ok()
        }
        Call::GetSlip => {
            let mut client = pb::slip_service_client::SlipServiceClient::new(channel.clone());
            client.get_slip(authed(token, pb::GetSlipRequest { id: slip.to_owned() })).await.is_ok()
        }
        Call::ListSlips => {
            let mut client = pb::slip_service_client::SlipServiceClient::new(channel.clone());
            let request = pb::ListSlipsRequest { page_size: 50, ..Default::default() };
            client.list_slips(authed(token, request)).await.is_ok()
        }
        Call::Suggest => {
            let mut client = pb::dispatch_service_client::DispatchServiceClient::new(channel.clone());
            let request = pb::SuggestEngineersRequest { slip_id: open_slip.to_owned(), limit: 5, ..Default::default() };
            client.suggest_engineers(authed(token, request)).await.is_ok()
        }
    }
}

/// What a day of phones did.
#[derive(Debug)]
pub struct Day {
    pub devices: usize,
    pub ops: usize,
    /// All phones signing in and pulling their day at once, until the last is done.
    pub shift_start: Duration,
    /// All phones pushing their queues at once, until the last is done.
    pub end_of_day: Duration,
    /// Ops the server holds more or fewer than were queued (0 and 0: exactly once).
    pub lost: usize,
    pub duplicated: usize,
    /// Server processes the phones were spread over.
    pub replicas: usize,
}

/// `devices` engineers' phones: each signs in (shift start), records `ops` actions offline,
/// then all sync at once (end of day); the server's records are then counted. Phone `i` talks
/// to `servers[i % servers.len()]`: replicas on one database, or the world's server alone.
pub fn end_of_day(
    rt: &tokio::runtime::Runtime,
    world: &World,
    servers: &[std::net::SocketAddr],
    devices: usize,
    ops: usize,
) -> Result<Day, Box<dyn std::error::Error>> {
    let f = &world.f;
    let dir = tempfile::tempdir()?;
    let mut phones = Vec::with_capacity(devices);
    for i in 0..devices {
        let (engineer_id, token) = rt.block_on(onsite_tests::new_engineer(
            &f.server,
            &f.server.admin_token,
            &f.manager,
            &format!("D{i:05}"),
            &format!("Phone {i}"),
        ));
        let slip = rt.block_on(f.dispatched_slip(&engineer_id)).id;
        let config = Config {
            sync_interval: None,
            sync_after_write: false,
            request_timeout: Duration::from_secs(120),
            ..Config::new(dir.path().join(format!("phone-{i}")))
        };
        let url = format!("http://{}", servers.get(i % servers.len().max(1)).unwrap_or(&f.server.addr));
        phones.push((Session::open(config)?, (url, token), slip));
    }
    let shift_start = all_at_once(&phones, |(session, (url, token), _)| session.sign_in(url, token).map(drop))?;
    // Six actions take the visit to parts: in warranty the fix's root cause decides who pays.
    let lines_each = ops.saturating_sub(6);
    for (session, _, slip) in &phones {
        session.confirm(slip)?;
        let (start, end) = span(2);
        session.book(slip, start, end, "Ms. Zhou")?;
        session.start_travel(slip)?;
        session.check_in(slip, 31.2046, 121.5996)?;
        session.log_backup(slip, &onsite_tests::visit::backup(), &[])?;
        session.record_fix(slip, &fix(), &[])?;
        for _ in 0..lines_each {
            session.add_parts_cost(slip, &parts()[..1])?;
        }
    }
    let end_of_day = all_at_once(&phones, |(session, _, _)| session.sync().map(drop))?;
    let (mut lost, mut duplicated) = (0, 0);
    for (_, _, slip) in &phones {
        let request = authed(&f.manager, pb::GetSlipRequest { id: slip.clone() });
        let held = rt.block_on(f.server.slips().get_slip(request))?.into_inner().cost_lines.len();
        lost += lines_each.saturating_sub(held);
        duplicated += held.saturating_sub(lines_each);
    }
    Ok(Day { devices, ops, shift_start, end_of_day, lost, duplicated, replicas: servers.len() })
}

/// Runs `work` for every phone on its own thread, all at once; how long until the last is done.
fn all_at_once<T: Sync>(
    phones: &[T],
    work: impl Fn(&T) -> onsite_sdk::Result<()> + Sync,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = phones.iter().map(|phone| scope.spawn(|| work(phone))).collect();
        handles
            .into_iter()
            .filter_map(|h| match h.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("a phone's thread panicked".to_owned()),
            })
            .collect()
    });
    if let Some(first) = failures.first() {
        return Err(format!("{} phone(s) failed, the first: {first}", failures.len()).into());
    }
    Ok(started.elapsed())
}
