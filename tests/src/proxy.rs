//! A loopback TCP proxy that injects network faults between a device and the server: it can
//! go offline (refusing and cutting every connection), cut each connection after a byte budget
//! from the device (a cut in the middle of a batch), and follow a restarted server.

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
    let down = async {
        let _ = tokio::io::copy(&mut server_read, &mut device_write).await;
    };
    tokio::select! {
        () = up => {}
        () = down => {}
        _ = kill.changed() => {}
    }
}
