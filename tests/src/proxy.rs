//! A loopback TCP proxy that injects network faults between a device and the server:
//! - offline: refusing and cutting every connection;
//! - a cut after a byte budget from the device (a cut in the middle of a batch);
//! - a silent stall in either direction at a byte offset, the connection kept open (a lift, a
//!   NAT that dropped the mapping);
//! - a half-open connection: at a byte offset from the server the proxy drops the server's side
//!   and keeps the device's open, reading and answering nothing;
//! - a slow link: a bandwidth and a one-way latency on every byte;
//! - following a restarted server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// A slow link: bytes per second each way and a one-way latency.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    pub bytes_per_second: u64,
    pub latency: Duration,
}

impl Link {
    /// About 50 kbit/s with a second of round-trip latency: a weak rural mobile link.
    pub const RURAL: Self = Self { bytes_per_second: 6_250, latency: Duration::from_millis(500) };
}

/// The proxy's controls; byte offsets of 0 mean never.
#[derive(Debug)]
struct State {
    online: AtomicBool,
    /// Bytes from the device after which a connection is cut.
    cut_after: AtomicU64,
    upstream: std::sync::Mutex<SocketAddr>,
    /// Bumped to cut every open connection.
    kill: watch::Sender<u64>,
    /// True while a stalled connection holds its bytes back (and stays open).
    stalled: watch::Sender<bool>,
    /// Bytes from the server each new connection passes before it stalls.
    stall_down_after: AtomicU64,
    /// Bytes from the device each new connection passes before it stalls.
    stall_up_after: AtomicU64,
    /// Bytes from the server after which a new connection goes half-open.
    half_open_after: AtomicU64,
    link: std::sync::Mutex<Option<Link>>,
    /// Bytes passed from the device and from the server, over all connections.
    up_bytes: AtomicU64,
    down_bytes: AtomicU64,
}

/// A running proxy.
#[derive(Debug, Clone)]
pub struct Proxy {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Proxy {
    /// Starts a proxy to `upstream` on the current runtime.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("proxy bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("proxy addr: {e}"));
        let state = Arc::new(State {
            online: AtomicBool::new(true),
            cut_after: AtomicU64::new(0),
            upstream: std::sync::Mutex::new(upstream),
            kill: watch::channel(0).0,
            stalled: watch::channel(false).0,
            stall_down_after: AtomicU64::new(0),
            stall_up_after: AtomicU64::new(0),
            half_open_after: AtomicU64::new(0),
            link: std::sync::Mutex::new(None),
            up_bytes: AtomicU64::new(0),
            down_bytes: AtomicU64::new(0),
        });
        let accept_state = state.clone();
        tokio::spawn(async move {
            while let Ok((device, _)) = listener.accept().await {
                let state = accept_state.clone();
                tokio::spawn(async move { relay(device, state).await });
            }
        });
        Self { addr, state }
    }

    /// The URL a device connects to.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Goes offline (cutting open connections) or back online.
    pub fn set_online(&self, online: bool) {
        self.state.online.store(online, Ordering::SeqCst);
        if !online {
            self.cut_all();
        }
    }

    /// Cuts each new connection after `bytes` from the device (0 = never).
    pub fn cut_after(&self, bytes: u64) {
        self.state.cut_after.store(bytes, Ordering::SeqCst);
    }

    /// Lets every stalled connection flow again.
    pub fn end_stalls(&self) {
        self.state.stalled.send_replace(false);
    }

    /// Stalls each new connection after `bytes` from the server (0 = never), for instance in
    /// the middle of an answer whose headers have arrived, until `end_stalls`.
    pub fn stall_after(&self, bytes: u64) {
        self.state.stall_down_after.store(bytes, Ordering::SeqCst);
    }

    /// Stalls each new connection after `bytes` from the device (0 = never): a request that
    /// never finishes arriving.
    pub fn stall_up_after(&self, bytes: u64) {
        self.state.stall_up_after.store(bytes, Ordering::SeqCst);
    }

    /// Each new connection goes half-open after `bytes` from the server (0 = never).
    pub fn half_open_after(&self, bytes: u64) {
        self.state.half_open_after.store(bytes, Ordering::SeqCst);
    }

    /// Shapes new connections as a slow link, or not.
    pub fn set_link(&self, link: Option<Link>) {
        if let Ok(mut slot) = self.state.link.lock() {
            *slot = link;
        }
    }

    /// Clears every fault and cuts open connections: the network heals.
    pub fn heal(&self) {
        let state = &self.state;
        for offset in [&state.cut_after, &state.stall_down_after, &state.stall_up_after, &state.half_open_after] {
            offset.store(0, Ordering::SeqCst);
        }
        self.set_link(None);
        self.end_stalls();
        self.set_online(true);
        self.cut_all();
    }

    /// Bytes passed so far from the device and from the server.
    pub fn bytes(&self) -> (u64, u64) {
        (self.state.up_bytes.load(Ordering::SeqCst), self.state.down_bytes.load(Ordering::SeqCst))
    }

    /// Points at a restarted server.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        if let Ok(mut slot) = self.state.upstream.lock() {
            *slot = upstream;
        }
        self.cut_all();
    }

    /// Cuts every open connection.
    pub fn cut_all(&self) {
        self.state.kill.send_modify(|n| *n += 1);
    }
}

/// What happens to one direction of one connection.
#[derive(Clone, Copy, Debug)]
struct Faults {
    /// Bytes after which the connection is cut.
    cut_after: u64,
    /// Bytes after which the direction stalls until `end_stalls`.
    stall_after: u64,
    /// Bytes after which the connection goes half-open.
    half_open_after: u64,
    link: Option<Link>,
}

/// How a direction ended.
enum Ended {
    Closed,
    HalfOpen,
}

fn offset(n: u64) -> u64 {
    if n == 0 { u64::MAX } else { n }
}

async fn relay(device: TcpStream, state: Arc<State>) {
    if !state.online.load(Ordering::SeqCst) {
        return;
    }
    let Some(upstream) = state.upstream.lock().ok().map(|a| *a) else { return };
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let link = state.link.lock().ok().and_then(|l| *l);
    let up = Faults {
        cut_after: offset(state.cut_after.load(Ordering::SeqCst)),
        stall_after: offset(state.stall_up_after.load(Ordering::SeqCst)),
        half_open_after: u64::MAX,
        link,
    };
    let down = Faults {
        cut_after: u64::MAX,
        stall_after: offset(state.stall_down_after.load(Ordering::SeqCst)),
        half_open_after: offset(state.half_open_after.load(Ordering::SeqCst)),
        link,
    };
    let mut kill = state.kill.subscribe();
    let (mut device_read, mut device_write) = device.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let ended = tokio::select! {
        _ = pipe(&mut device_read, &mut server_write, up, &state.stalled, &state.up_bytes) => Ended::Closed,
        ended = pipe(&mut server_read, &mut device_write, down, &state.stalled, &state.down_bytes) => ended,
        _ = kill.changed() => Ended::Closed,
    };
    if let Ended::HalfOpen = ended {
        // The server's side goes; the device's stays open and silent until the proxy is told
        // to cut, or the device gives up on it.
        drop((server_read, server_write));
        let mut sink = vec![0u8; 16 * 1024];
        let swallow = async { while matches!(device_read.read(&mut sink).await, Ok(n) if n > 0) {} };
        tokio::select! {
            () = swallow => {}
            _ = kill.changed() => {}
        }
    }
}

/// Copies one direction, applying its faults. A reader passes chunks, each with the instant
/// it is due at the other end, to a writer; without a slow link that instant is now.
async fn pipe(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    faults: Faults,
    stall: &watch::Sender<bool>,
    counted: &AtomicU64,
) -> Ended {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let mut stalled = stall.subscribe();
    let reader = async move {
        let mut wire = Wire { tx, link: faults.link, next_free: Instant::now() };
        let mut passed = 0u64;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return Ended::Closed,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            let end = passed.saturating_add(n as u64);
            let upto = |limit: u64| usize::try_from(limit.saturating_sub(passed)).unwrap_or(n).min(n);
            if end > faults.half_open_after {
                wire.send(&chunk[..upto(faults.half_open_after)]);
                return Ended::HalfOpen;
            }
            if end > faults.cut_after {
                wire.send(&chunk[..upto(faults.cut_after)]);
                return Ended::Closed;
            }
            let free = if passed < faults.stall_after { upto(faults.stall_after) } else { n };
            wire.send(&chunk[..free]);
            if free < n {
                stall.send_replace(true);
                // A stall keeps the bytes and the connection until it ends.
                if stalled.wait_for(|s| !s).await.is_err() {
                    return Ended::Closed;
                }
                wire.send(&chunk[free..]);
            }
            passed = end;
        }
    };
    let writer = async {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
            counted.fetch_add(bytes.len() as u64, Ordering::SeqCst);
        }
    };
    // The direction ends when its reader ended and what it passed was written.
    let (ended, ()) = tokio::join!(reader, writer);
    ended
}

/// The sending end of one direction.
struct Wire {
    tx: mpsc::UnboundedSender<(Instant, Vec<u8>)>,
    link: Option<Link>,
    /// When the link has sent everything before.
    next_free: Instant,
}

impl Wire {
    fn send(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let now = Instant::now();
        let due = match self.link {
            None => now,
            Some(link) => {
                let transmit = Duration::from_secs_f64(bytes.len() as f64 / link.bytes_per_second.max(1) as f64);
                self.next_free = self.next_free.max(now) + transmit;
                self.next_free + link.latency
            }
        };
        let _ = self.tx.send((due, bytes.to_vec()));
    }
}
