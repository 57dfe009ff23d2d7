//! Engine state shared by the session, its actions and the sync worker: the configuration,
//! the local store behind one lock, the device clock and key, the observer and sync status.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use onsite_core::id::EngineerId;
use onsite_proto::signoff;
use tokio::sync::Notify;

use crate::error::{Result, SdkError};
use crate::store::{self, Store, key};

/// The device's clock; tests and apps with a trusted time source may replace it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How a session runs.
#[derive(Clone)]
pub struct Config {
    /// The app's private data directory; the store is `onsite.db` in it.
    pub data_dir: PathBuf,
    /// Shown to the manager ("Pixel 8 of engineer 17").
    pub device_label: String,
    /// Background sync period when idle; `None` syncs only on `sync()` and after writes.
    pub sync_interval: Option<Duration>,
    /// Sync after each local write (when a background worker runs).
    pub sync_after_write: bool,
    /// Deadline of connecting and of each call, its whole answer included.
    pub request_timeout: Duration,
    /// HTTP/2 keepalive ping period; a silent dead connection is noticed within about twice it.
    pub keepalive: Duration,
    /// Pushes and pulls travel gzip-compressed (on by default; off only to measure or debug).
    pub compress: bool,
    /// The CA of a self-hosted server's certificate (PEM), trusted besides the public roots.
    pub ca_certificate_pem: Option<String>,
    /// Allow `http://` to hosts other than this device. Off: the engineer's work never crosses
    /// a network in plaintext.
    pub allow_plaintext: bool,
    /// 32 random bytes that encrypt the local store, from the Android Keystore or the iOS
    /// Keychain; `None` leaves it unencrypted. A store opens only with the key it was made with.
    pub store_key: Option<Vec<u8>>,
    /// The device clock.
    pub clock: Clock,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config").field("data_dir", &self.data_dir).field("sync_interval", &self.sync_interval).finish()
    }
}

impl Config {
    /// Defaults: background sync every 60 s and after each write.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            device_label: "engineer phone".into(),
            sync_interval: Some(Duration::from_secs(60)),
            sync_after_write: true,
            request_timeout: Duration::from_secs(20),
            keepalive: Duration::from_secs(10),
            compress: true,
            ca_certificate_pem: None,
            allow_plaintext: false,
            store_key: None,
            clock: Arc::new(Utc::now),
        }
    }
}

/// Where sync stands, for the app's status line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStatus {
    /// A round is running.
    pub syncing: bool,
    /// Ops waiting for the server.
    pub pending_ops: u64,
    /// Bytes of ops and attachments waiting.
    pub pending_bytes: u64,
    /// Ops the server refused, waiting for the engineer or manager.
    pub needs_attention: u64,
    /// When a round last succeeded (Unix ms).
    pub last_success_ms: Option<i64>,
    /// Why the last round failed, if it did.
    pub last_error: Option<String>,
}

/// Told about sync state and progress. Called from the SDK's worker thread.
pub trait SyncObserver: Send + Sync {
    /// The state changed (a round started or ended, ops settled).
    fn on_status(&self, status: SyncStatus);
}

/// The state every part of a session shares.
pub(crate) struct Engine {
    pub(crate) config: Config,
    store: Mutex<Store>,
    observer: Mutex<Option<Arc<dyn SyncObserver>>>,
    /// One sync round at a time.
    pub(crate) gate: tokio::sync::Mutex<()>,
    /// Wakes the background worker after a local write.
    pub(crate) wake: Arc<Notify>,
    /// Changes asked for per pull (0 until a pull sets it): halved when a pull's answer misses
    /// its deadline (a slow link), so each answer can arrive in time; doubled back after
    /// answers that did.
    pub(crate) pull_page: std::sync::atomic::AtomicU32,
}

impl Engine {
    pub(crate) fn new(config: Config, store: Store) -> Self {
        Self {
            config,
            store: Mutex::new(store),
            observer: Mutex::new(None),
            gate: tokio::sync::Mutex::new(()),
            wake: Arc::new(Notify::new()),
            pull_page: std::sync::atomic::AtomicU32::new(0),
        }
    }

    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Store>> {
        self.store.lock().map_err(|_| SdkError::Storage("the store lock was poisoned".into()))
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        (self.config.clock)()
    }

    /// The device clock, to the millisecond: what ops and records carry.
    pub(crate) fn now_ms(&self) -> DateTime<Utc> {
        let now = self.now();
        DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
    }

    pub(crate) fn engineer(&self) -> Result<EngineerId> {
        store::engineer(self.lock()?.read())
    }

    /// The device key and its public half.
    pub(crate) fn device_key(&self, store: &Store) -> Result<([u8; 32], [u8; 32])> {
        let secret = store::meta(store.read(), key::DEVICE_KEY)?.ok_or(SdkError::NotSignedIn)?;
        let secret: [u8; 32] = secret.try_into().map_err(|_| SdkError::Storage("bad device key".into()))?;
        Ok((secret, signoff::public_key(&secret)))
    }

    pub(crate) fn set_observer(&self, observer: Arc<dyn SyncObserver>) {
        if let Ok(mut slot) = self.observer.lock() {
            *slot = Some(observer);
        }
    }

    pub(crate) fn status(&self, syncing: bool) -> Result<SyncStatus> {
        let store = self.lock()?;
        let conn = store.read();
        let (ops, op_bytes) = store::pending(conn)?;
        let (_, blob_bytes) = store::pending_attachments(conn)?;
        let last_success = store::meta_int(conn, key::LAST_SUCCESS_MS)?;
        Ok(SyncStatus {
            syncing,
            pending_ops: ops,
            pending_bytes: op_bytes + blob_bytes,
            needs_attention: store::attention_count(conn)?,
            last_success_ms: (last_success > 0).then_some(last_success),
            last_error: store::meta_text(conn, key::LAST_ERROR)?.filter(|e| !e.is_empty()),
        })
    }

    /// Tells the observer where sync stands.
    pub(crate) fn notify(&self, syncing: bool) {
        let observer = self.observer.lock().ok().and_then(|o| o.clone());
        if let (Some(observer), Ok(status)) = (observer, self.status(syncing)) {
            observer.on_status(status);
        }
    }

    /// After a local write: tell the observer, and wake the worker when configured to.
    pub(crate) fn after_write(&self) {
        self.notify(false);
        if self.config.sync_after_write {
            self.wake.notify_one();
        }
    }
}
