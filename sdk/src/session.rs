//! The engineer's session on a device: opening the store, sign-in and sign-out, sync
//! triggers, and local reads. Actions are in `actions.rs`, the network in `sync.rs`.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::credentials;
use crate::engine::{Config, Engine, SyncObserver, SyncStatus};
use crate::error::{Result, SdkError};
use crate::model::{self, Attention, Customer, Part, PendingChange, Slip, Ticket};
use crate::store::{self, Kept, key};
use crate::sync::{self, SyncReport};

/// An engineer's session on this device. Methods block: call them off the UI thread.
pub struct Session {
    pub(crate) engine: Arc<Engine>,
    pub(crate) runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("config", &self.engine.config).finish()
    }
}

impl Session {
    /// Opens the local store. Works offline; a signed-in engineer's data is there at once.
    pub fn open(config: Config) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| SdkError::Storage(e.to_string()))?;
        let store = store::Store::open(&config.data_dir.join("onsite.db"), config.store_key.as_deref())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("onsite-sync")
            .enable_all()
            .build()
            .map_err(|e| SdkError::Storage(e.to_string()))?;
        let engine = Arc::new(Engine::new(config, store));
        if engine.config.sync_interval.is_some() {
            runtime.spawn(sync::background(Arc::downgrade(&engine), engine.wake.clone()));
        }
        Ok(Self { engine, runtime })
    }

    /// Signs the engineer in on `server_url` with a long-lived API token (needs the network
    /// once): learns who they are, creates this device's key, registers it, and pulls their slips.
    pub fn sign_in(&self, server_url: &str, token: &str) -> Result<SyncReport> {
        let device = credentials::Device::of(&self.engine)?;
        let signed = self.runtime.block_on(credentials::with_token(server_url, token, &self.engine.config))?;
        self.adopt(server_url, &signed, device)
    }

    /// Signs the engineer in with their login and password, for this device: the server scopes
    /// the sign-in to it, and refreshes keep it going while the phone comes online now and then.
    pub fn sign_in_with_password(&self, server_url: &str, login: &str, password: &str) -> Result<SyncReport> {
        let device = credentials::Device::of(&self.engine)?;
        let config = &self.engine.config;
        let signed = self.runtime.block_on(credentials::with_password(server_url, login, password, &device, config))?;
        self.adopt(server_url, &signed, device)
    }

    /// Enrols this device with the one-time code a manager issued to the engineer: registers
    /// the device's key and signs the engineer in, scoped to this device.
    pub fn enrol(&self, server_url: &str, enrolment_code: &str) -> Result<SyncReport> {
        let device = credentials::Device::of(&self.engine)?;
        let signed =
            self.runtime.block_on(credentials::with_code(server_url, enrolment_code, &device, &self.engine.config))?;
        self.adopt(server_url, &signed, device)
    }

    /// Keeps a sign-in: the same engineer again keeps the device and its queue; on a fresh
    /// store the device's identity is stored with it.
    fn adopt(
        &self,
        server_url: &str,
        signed: &credentials::SignedIn,
        device: credentials::Device,
    ) -> Result<SyncReport> {
        {
            let mut store = self.engine.lock()?;
            let current = store::meta_text(store.read(), key::ENGINEER_ID)?;
            if current.as_deref().is_some_and(|c| c != signed.engineer_id) {
                return Err(SdkError::OtherEngineerSignedIn);
            }
            let fresh = current.is_none();
            store.write(|txn| {
                store::set_meta(txn, key::SERVER_URL, server_url)?;
                credentials::keep(txn, signed)?;
                if fresh {
                    store::set_meta(txn, key::ENGINEER_ID, &signed.engineer_id)?;
                    store::set_meta(txn, key::DEVICE_ID, &device.id)?;
                    store::set_meta(txn, key::DEVICE_KEY, device.secret)?;
                    store::set_meta(txn, key::NEXT_SEQ, "1")?;
                }
                Ok(())
            })?;
        }
        self.sync()
    }

    /// Signs out and deletes every local record. Refuses while changes are unsynced unless
    /// `force`, which discards them: the app must warn the engineer first.
    pub fn sign_out(&self, force: bool) -> Result<()> {
        // Not held while the server is told: that takes up to a few seconds.
        drop(self.refuse_unsynced(force)?);
        self.runtime.block_on(credentials::sign_out(&self.engine));
        // Checked again under the lock that wipes: an action recorded meanwhile is not lost.
        let mut store = self.refuse_unsynced(force)?;
        store.write(|txn| store::wipe(txn))
    }

    /// The store, unless it holds unsynced work and `force` is off.
    fn refuse_unsynced(&self, force: bool) -> Result<std::sync::MutexGuard<'_, store::Store>> {
        let store = self.engine.lock()?;
        let (ops, _) = store::pending(store.read())?;
        let (attachments, _) = store::pending_attachments(store.read())?;
        if (ops > 0 || attachments > 0) && !force {
            return Err(SdkError::UnsyncedChanges { ops, attachments });
        }
        Ok(store)
    }

    /// The signed-in engineer, if any.
    pub fn engineer_id(&self) -> Result<Option<String>> {
        store::meta_text(self.engine.lock()?.read(), key::ENGINEER_ID)
    }

    /// This device's id (one per sign-in).
    pub fn device_id(&self) -> Result<Option<String>> {
        store::meta_text(self.engine.lock()?.read(), key::DEVICE_ID)
    }

    /// Runs a sync round now and waits for it.
    pub fn sync(&self) -> Result<SyncReport> {
        self.runtime.block_on(sync::run(&self.engine))
    }

    /// Registers the observer of sync state.
    pub fn set_observer(&self, observer: Arc<dyn SyncObserver>) {
        self.engine.set_observer(observer);
    }

    /// Where sync stands.
    pub fn status(&self) -> Result<SyncStatus> {
        self.engine.status(false)
    }

    // Local reads: they never touch the network.

    /// Every slip on the device, as the engineer sees it.
    pub fn slips(&self) -> Result<Vec<Slip>> {
        Ok(store::local_slips(self.engine.lock()?.read())?.iter().map(Slip::from_wire).collect())
    }

    /// Open slips with an appointment on `day` (UTC date of the window start), or without one.
    pub fn slips_for_day(&self, day: NaiveDate) -> Result<Vec<Slip>> {
        Ok(self
            .slips()?
            .into_iter()
            .filter(Slip::is_open)
            .filter(|s| s.appointment.as_ref().and_then(|a| a.window).is_none_or(|w| w.start.date_naive() == day))
            .collect())
    }

    /// One slip with its records.
    pub fn slip(&self, id: &str) -> Result<Slip> {
        let store = self.engine.lock()?;
        store::slip(store.read(), id)?
            .map(|(_, local)| Slip::from_wire(&local))
            .ok_or_else(|| SdkError::UnknownSlip(id.to_owned()))
    }

    /// The ticket of a slip.
    pub fn ticket(&self, id: &str) -> Result<Option<Ticket>> {
        let ticket: Option<onsite_proto::v1::Ticket> = store::body(self.engine.lock()?.read(), Kept::Tickets, id)?;
        Ok(ticket.as_ref().map(Ticket::from_wire))
    }

    /// A customer with contacts, sites and installed products.
    pub fn customer(&self, id: &str) -> Result<Option<Customer>> {
        let customer: Option<onsite_proto::v1::Customer> =
            store::body(self.engine.lock()?.read(), Kept::Customers, id)?;
        Ok(customer.as_ref().map(Customer::from_wire))
    }

    /// The parts catalog for the engineer's product lines.
    pub fn parts_catalog(&self) -> Result<Vec<Part>> {
        Ok(store::catalog(self.engine.lock()?.read())?.iter().map(Part::from_wire).collect())
    }

    /// Changes not yet confirmed by the server, oldest first.
    pub fn pending_changes(&self) -> Result<Vec<PendingChange>> {
        let queued = store::queued(self.engine.lock()?.read(), i64::MAX)?;
        Ok(queued
            .into_iter()
            .map(|q| PendingChange {
                device_seq: q.seq,
                action: model::action_name(&q.op).to_owned(),
                op_id: q.op.op_id,
                slip_id: q.op.slip_id,
                attempts: q.attempts,
            })
            .collect())
    }

    /// Changes the server refused, with its reason and current state of the slip.
    pub fn needs_attention(&self) -> Result<Vec<Attention>> {
        let kept = store::attention(self.engine.lock()?.read())?;
        Ok(kept
            .into_iter()
            .map(|a| Attention {
                action: model::action_name(&a.op).to_owned(),
                op_id: a.op.op_id,
                device_seq: a.op.device_seq,
                slip_id: a.op.slip_id,
                outcome: a.outcome,
                reason: a.reason,
                message: a.message,
                server_slip: a.server_slip.as_ref().map(Slip::from_wire),
                slip_snapshot: a.local_slip.as_ref().map(Slip::from_wire),
                at_ms: a.at_ms,
            })
            .collect())
    }

    /// Clears a needs-attention entry once the engineer or manager dealt with it.
    pub fn dismiss(&self, op_id: &str) -> Result<bool> {
        let mut store = self.engine.lock()?;
        let dismissed = store.write(|txn| store::resolve_attention(txn, op_id))?;
        drop(store);
        self.engine.notify(false);
        Ok(dismissed)
    }
}
