//! The hostile-network suite: the engineer's phone and the server each in a process of their
//! own, a fault proxy between them, and random schedules of what mobile networks and phones do:
//! cuts at random bytes, silent stalls in either direction, half-open connections, a slow link
//! (about 50 kbit/s, a second of round-trip latency), the server killed with SIGKILL in the
//! middle of a push, and the phone killed with SIGKILL in the middle of an action or a sync.
//!
//! One schedule is one fault around one action of a visit and the sync after it. Then the
//! network heals and the phone syncs until its queue is empty. Each schedule asserts:
//! - exactly once: the server applied every action of the visit at most once;
//! - no record lost: every action the phone has (and every one it acknowledged before a kill)
//!   reached the server, and nothing was refused;
//! - the queue drains once the network heals;
//! - no `sync()` outlives its deadline by more than a few seconds.
//!
//! `ONSITE_HOSTILE_SCHEDULES` sets how many schedules run (200 by default) and
//! `ONSITE_HOSTILE_SEED` the seed; the figures are printed at the end.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use onsite_proto::v1 as pb;
use onsite_tests::proxy::{Link, Proxy};
use onsite_tests::visit::ACTIONS;
use onsite_tests::{Backend, Fixture, Rng, TestServer, authed};
use tokio::runtime::Runtime;

const PHONE: &str = env!("CARGO_BIN_EXE_onsite-test-phone");
const SERVER: &str = env!("CARGO_BIN_EXE_onsite-test-server");

/// The phone's deadline per network wait on a fast link: short, so a stall costs little.
const DEADLINE: Duration = Duration::from_secs(1);
/// Its keepalive period on a fast link.
const KEEPALIVE: Duration = Duration::from_millis(500);
/// The phone's deadline on the slow link (the SDK's default is 20 s).
const SLOW_DEADLINE: Duration = Duration::from_secs(10);
/// What "a few seconds" over a deadline may be on a shared, noisy machine.
const SLACK: Duration = Duration::from_secs(3);
/// The actions of one visit.
const VISIT: usize = ACTIONS.len();

/// The phone's process and its pipes.
struct Phone {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    deadline: Duration,
}

impl Phone {
    fn spawn(store: &Path, deadline: Duration, keepalive: Duration) -> Self {
        let mut child = Command::new(PHONE)
            .arg(store)
            .arg(deadline.as_millis().to_string())
            .arg(keepalive.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn phone: {e}"));
        let input = child.stdin.take().unwrap_or_else(|| panic!("phone stdin"));
        let output = BufReader::new(child.stdout.take().unwrap_or_else(|| panic!("phone stdout")));
        Self { child, input, output, deadline }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.input, "{command}").unwrap_or_else(|e| panic!("to phone: {e}"));
        self.input.flush().unwrap_or_else(|e| panic!("to phone: {e}"));
    }

    fn answer(&mut self) -> String {
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap_or_else(|e| panic!("from phone: {e}"));
        assert!(!line.is_empty(), "the phone ended");
        line.trim().to_owned()
    }

    fn ask(&mut self, command: &str) -> String {
        self.send(command);
        self.answer()
    }

    /// SIGKILL, whatever the phone is doing.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Runs `sync` and checks it ended within its deadline: one per network wait of the round
    /// at most (connect, push, pull), and on a fast link one at most, since every wait but a
    /// stalled one ends at once.
    fn sync(&mut self, slow: bool, figures: &mut Figures) -> bool {
        self.send("sync");
        self.sync_ended(slow, figures)
    }

    /// Reads the answer of a `sync` sent before; see [`Phone::sync`].
    fn sync_ended(&mut self, slow: bool, figures: &mut Figures) -> bool {
        let answer = self.answer();
        let mut words = answer.split_whitespace();
        let ok = words.next() == Some("ok");
        let ms: u64 = if ok { words.nth(2) } else { words.next() }
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("sync answered {answer:?}"));
        let took = Duration::from_millis(ms);
        let bound = if slow { self.deadline * 3 } else { self.deadline } + SLACK;
        assert!(took <= bound, "sync took {took:?}, over its deadline {bound:?}: {answer}");
        figures.syncs += 1;
        figures.failed_syncs += usize::from(!ok);
        figures.longest_sync = figures.longest_sync.max(took);
        ok
    }

    /// Actions done in the phone's view of `slip`.
    fn steps(&mut self, slip: &str) -> Option<usize> {
        self.ask(&format!("slip {slip}")).strip_prefix("ok ").and_then(|n| n.parse().ok())
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The faults a schedule can bring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Fault {
    Cut,
    StallDown,
    StallUp,
    HalfOpen,
    Offline,
    SlowLink,
    ServerKilled,
    PhoneKilledInAction,
    PhoneKilledInSync,
}

impl Fault {
    fn pick(rng: &mut Rng) -> Self {
        match rng.below(100) {
            0..=15 => Self::Cut,
            16..=29 => Self::StallDown,
            30..=39 => Self::StallUp,
            40..=51 => Self::HalfOpen,
            52..=59 => Self::Offline,
            60..=61 => Self::SlowLink,
            62..=75 => Self::ServerKilled,
            76..=87 => Self::PhoneKilledInAction,
            _ => Self::PhoneKilledInSync,
        }
    }
}

/// What the run did, printed at the end.
#[derive(Debug, Default)]
struct Figures {
    schedules: usize,
    by_fault: std::collections::BTreeMap<String, usize>,
    visits_completed: usize,
    actions_on_server: usize,
    syncs: usize,
    /// Syncs that ended in an error (the fault bit).
    failed_syncs: usize,
    longest_sync: Duration,
    server_kills: usize,
    phone_kills: usize,
    duplicated: usize,
    lost: usize,
    stalled: usize,
}

/// The server process, the proxy, and the desk's view of the server.
struct World {
    rt: Runtime,
    f: Fixture,
    proxy: Proxy,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let mut f = rt.block_on(Fixture::new(Backend::Sqlite));
        // The fixture's people are in the database; from now on the server is a process.
        let url = f.server.database_url.clone();
        let placeholder = rt.block_on(TestServer::start(Backend::Sqlite));
        let in_process = std::mem::replace(&mut f.server, placeholder);
        let dir = rt.block_on(in_process.stop());
        let process = rt.block_on(TestServer::spawn(Path::new(SERVER), url, dir));
        drop(std::mem::replace(&mut f.server, process));
        let proxy = rt.block_on(Proxy::start(f.server.addr));
        Self { rt, f, proxy, dir: tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")) }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("phone")
    }

    /// SIGKILL to the server, then a start on the same database; the proxy follows.
    fn kill_server(&mut self) {
        let url = self.f.server.database_url.clone();
        let placeholder = self.rt.block_on(TestServer::start(Backend::Sqlite));
        let killed = std::mem::replace(&mut self.f.server, placeholder).kill();
        let restarted = self.rt.block_on(TestServer::spawn(Path::new(SERVER), url, killed));
        self.proxy.set_upstream(restarted.addr);
        drop(std::mem::replace(&mut self.f.server, restarted));
    }

    fn dispatched(&self) -> String {
        self.rt.block_on(self.f.dispatched_slip(&self.f.engineer_id)).id
    }

    /// How often the server applied each action of the visit.
    fn applied(&self, slip: &str) -> Vec<usize> {
        let request = pb::ListSlipEventsRequest { id: slip.to_owned() };
        let events = self
            .rt
            .block_on(self.f.server.slips().list_slip_events(authed(&self.f.manager, request)))
            .unwrap_or_else(|e| panic!("events: {e}"))
            .into_inner()
            .events;
        ACTIONS.iter().map(|a| events.iter().filter(|e| e.action == *a).count()).collect()
    }
}

/// Heals the network and syncs until nothing waits; false if it never drains.
fn drain(world: &World, phone: &mut Phone, figures: &mut Figures) -> bool {
    world.proxy.heal();
    for _ in 0..20 {
        if phone.sync(false, figures) && phone.ask("status").starts_with("ok 0 0 ") {
            return true;
        }
    }
    false
}

#[test]
fn hostile_networks_never_lose_duplicate_or_stall_work() {
    let schedules: usize = std::env::var("ONSITE_HOSTILE_SCHEDULES").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let seed: u64 = std::env::var("ONSITE_HOSTILE_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(0x0b57_11e0);
    let mut world = World::new();
    let mut rng = Rng(seed);
    let mut figures = Figures::default();
    let started = Instant::now();
    let mut phone = Phone::spawn(&world.store(), DEADLINE, KEEPALIVE);
    assert_eq!(phone.ask(&format!("sign_in {} {}", world.proxy.url(), world.f.engineer)), "ok");
    let mut slip = world.dispatched();
    // Actions the phone acknowledged: they must survive any kill.
    let mut acknowledged = 0;
    for schedule in 0..schedules {
        let fault = Fault::pick(&mut rng);
        figures.schedules += 1;
        *figures.by_fault.entry(format!("{fault:?}")).or_default() += 1;
        let offset = 1 + rng.below(6000) as u64;
        match fault {
            Fault::Cut => world.proxy.cut_after(offset),
            Fault::StallDown => world.proxy.stall_after(offset),
            Fault::StallUp => world.proxy.stall_up_after(offset),
            Fault::HalfOpen => world.proxy.half_open_after(offset),
            Fault::Offline => world.proxy.set_online(false),
            Fault::SlowLink => {
                // A phone whose deadlines suit the link.
                phone.kill();
                phone = Phone::spawn(&world.store(), SLOW_DEADLINE, Duration::from_secs(10));
                world.proxy.set_link(Some(Link::RURAL));
            }
            Fault::ServerKilled | Fault::PhoneKilledInAction | Fault::PhoneKilledInSync => {}
        }
        // How far into the action or the sync a kill comes.
        let pause = Duration::from_millis(rng.below(40) as u64);
        if fault == Fault::PhoneKilledInAction {
            phone.send(&format!("step {slip}"));
            std::thread::sleep(pause);
            phone.kill();
            figures.phone_kills += 1;
            phone = Phone::spawn(&world.store(), DEADLINE, KEEPALIVE);
        } else {
            let answer = phone.ask(&format!("step {slip}"));
            if let Some(n) = answer.strip_prefix("ok ").and_then(|n| n.parse::<usize>().ok()) {
                acknowledged = acknowledged.max(n);
            }
            match fault {
                Fault::ServerKilled => {
                    phone.send("sync");
                    std::thread::sleep(pause);
                    world.kill_server();
                    figures.server_kills += 1;
                    phone.sync_ended(false, &mut figures);
                }
                Fault::PhoneKilledInSync => {
                    phone.send("sync");
                    std::thread::sleep(pause);
                    phone.kill();
                    figures.phone_kills += 1;
                    phone = Phone::spawn(&world.store(), DEADLINE, KEEPALIVE);
                }
                _ => {
                    phone.sync(fault == Fault::SlowLink, &mut figures);
                }
            }
        }
        if fault == Fault::SlowLink {
            phone.kill();
            phone = Phone::spawn(&world.store(), DEADLINE, KEEPALIVE);
        }
        if !drain(&world, &mut phone, &mut figures) {
            figures.stalled += 1;
            panic!("schedule {schedule} ({fault:?}): the queue did not drain: {}", phone.ask("status"));
        }
        let on_phone = phone.steps(&slip).unwrap_or(0);
        let applied = world.applied(&slip);
        let on_server = applied.iter().filter(|n| **n > 0).count();
        figures.duplicated += applied.iter().filter(|n| **n > 1).count();
        figures.lost += on_phone.max(acknowledged).saturating_sub(on_server);
        assert!(applied.iter().all(|n| *n <= 1), "schedule {schedule} ({fault:?}): applied twice: {applied:?}");
        assert!(
            applied.iter().take(on_phone.max(acknowledged)).all(|n| *n == 1) && on_server == on_phone,
            "schedule {schedule} ({fault:?}): phone has {on_phone} (acknowledged {acknowledged}), server {applied:?}"
        );
        assert!(phone.ask("status").ends_with(" 0"), "schedule {schedule} ({fault:?}): something was refused");
        if on_server == VISIT {
            figures.visits_completed += 1;
            figures.actions_on_server += VISIT;
            slip = world.dispatched();
            acknowledged = 0;
        }
    }
    println!("hostile networks, seed {seed:#x}, {:?}: {figures:#?}", started.elapsed());
    assert_eq!((figures.duplicated, figures.lost, figures.stalled), (0, 0, 0));
    assert!(figures.server_kills > 0 && figures.phone_kills > 0 || schedules < 50, "kills happened: {figures:?}");
}
