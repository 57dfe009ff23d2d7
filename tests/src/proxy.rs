//! A loopback TCP proxy that injects network faults between a device and the server: it can
//! go offline (refusing and cutting every connection), cut each connection after a byte budget
//! from the device (a cut in the middle of a batch), stall the server's answers while keeping
//! the connection open (a lift, a NAT that dropped the mapping), and follow a restarted server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The proxy's controls.
#[derive(Debug)]
struct State {
    online: AtomicBool,
    /// Bytes from the device after which a connection is cut; 0 = never.
    cut_after: AtomicU64,
    upstream: std::sync::Mutex<SocketAddr>,
    /// Bumped to cut every open connection.
    kill: watch::Sender<u64>,
    /// While true, bytes from the server are held back and connections stay open.
    stalled: watch::Sender<bool>,
    /// Bytes from the server each new connection passes before it stalls; 0 = never.
    stall_after: AtomicU64,
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
            stall_after: AtomicU64::new(0),
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

    /// Holds back every byte from the server (without closing anything), or lets them flow.
    pub fn stall(&self, stalled: bool) {
        self.state.stalled.send_replace(stalled);
    }

    /// Stalls each new connection after `bytes` from the server (0 = never), for instance in
    /// the middle of an answer whose headers have arrived. `stall(false)` lets them flow again.
    pub fn stall_after(&self, bytes: u64) {
        self.state.stall_after.store(bytes, Ordering::SeqCst);
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

async fn relay(mut device: TcpStream, state: Arc<State>) {
    if !state.online.load(Ordering::SeqCst) {
        return;
    }
    let Some(upstream) = state.upstream.lock().ok().map(|a| *a) else { return };
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    let budget = match state.cut_after.load(Ordering::SeqCst) {
        0 => u64::MAX,
        n => n,
    };
    let mut kill = state.kill.subscribe();
    let (mut device_read, mut device_write) = device.split();
    let (mut server_read, mut server_write) = server.split();
    let up = async {
        let mut sent = 0u64;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match device_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let allowed = (budget - sent).min(n as u64) as usize;
            if server_write.write_all(&buf[..allowed]).await.is_err() || allowed < n {
                return;
            }
            sent += n as u64;
        }
    };
    let mut stalled = state.stalled.subscribe();
    let stall_after = match state.stall_after.load(Ordering::SeqCst) {
        0 => u64::MAX,
        n => n,
    };
    let stall = &state.stalled;
    let down = async {
        // Each connection stalls once, at its offset; after the stall ends it flows.
        let mut passed = 0u64;
        let mut tripped = false;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let free = if tripped { n } else { (stall_after.saturating_sub(passed)).min(n as u64) as usize };
            if device_write.write_all(&buf[..free]).await.is_err() {
                return;
            }
            passed += free as u64;
            if free < n {
                tripped = true;
                stall.send_replace(true);
            }
            // A stall keeps the bytes and the connection until it ends.
            if stalled.wait_for(|s| !s).await.is_err() || device_write.write_all(&buf[free..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = up => {}
        () = down => {}
        _ = kill.changed() => {}
    }
}
