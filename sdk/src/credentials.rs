//! Signing in and staying signed in: with an API token, a password or a manager's one-time
//! enrolment code; the short-lived access token is refreshed while online, ahead of its expiry
//! and again whenever the server says it expired. Nothing here is needed to record work:
//! actions never touch the network, so an expired token offline blocks nothing.

use std::time::Duration;

use onsite_proto::v1::{self as pb, admin_service_client::AdminServiceClient, auth_service_client::AuthServiceClient};
use tonic::transport::Channel;

use crate::engine::{Config, Engine};
use crate::error::{Result, SdkError};
use crate::net::{authed, connect, within};
use crate::store::{self, key};

/// Refresh this long before the access token expires, so no call starts with one about to lapse.
const REFRESH_AHEAD: Duration = Duration::from_secs(60);
/// Longest wait for the server's sign-out when the engineer signs out: it is a courtesy.
const SIGN_OUT_WAIT: Duration = Duration::from_secs(3);

/// This device's identity: kept across sign-ins of the same engineer, new on a fresh store.
#[derive(Debug)]
pub(crate) struct Device {
    pub id: String,
    pub secret: [u8; 32],
}

impl Device {
    /// The stored identity, or a new one for a store nobody signed in on.
    pub(crate) fn of(engine: &Engine) -> Result<Self> {
        let store = engine.lock()?;
        let id = store::meta_text(store.read(), key::DEVICE_ID)?;
        match (id, engine.device_key(&store)) {
            (Some(id), Ok((secret, _))) => Ok(Self { id, secret }),
            _ => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| SdkError::Storage(format!("no randomness: {e}")))?;
                Ok(Self { id: uuid::Uuid::now_v7().to_string(), secret })
            }
        }
    }
}

/// What a sign-in gave.
#[derive(Debug)]
pub(crate) struct SignedIn {
    pub engineer_id: String,
    access_token: String,
    refresh_token: Option<String>,
    access_expires_ms: Option<i64>,
}

impl SignedIn {
    fn from_session(session: pb::Session) -> Result<Self> {
        let engineer_id = session.user.map(|u| u.engineer_id).unwrap_or_default();
        if engineer_id.is_empty() {
            return Err(not_an_engineer());
        }
        Ok(Self {
            engineer_id,
            access_token: session.access_token,
            refresh_token: Some(session.refresh_token),
            access_expires_ms: session.access_expire_time.map(|t| t.seconds.saturating_mul(1000)),
        })
    }
}

fn not_an_engineer() -> SdkError {
    SdkError::Refused { reason: "NOT_AN_ENGINEER".into(), message: "this user has no engineer record".into() }
}

/// Signs in with a long-lived API token: learns whose it is.
pub(crate) async fn with_token(url: &str, token: &str, config: &Config) -> Result<SignedIn> {
    let mut admin = AdminServiceClient::new(connect(url, config).await?);
    let me = within(config.request_timeout, admin.who_am_i(authed(token, pb::WhoAmIRequest {}))).await??;
    if me.engineer_id.is_empty() {
        return Err(not_an_engineer());
    }
    Ok(SignedIn {
        engineer_id: me.engineer_id,
        access_token: token.to_owned(),
        refresh_token: None,
        access_expires_ms: None,
    })
}

/// Signs in with a login and password, for this device.
pub(crate) async fn with_password(
    url: &str,
    login: &str,
    password: &str,
    device: &Device,
    config: &Config,
) -> Result<SignedIn> {
    let mut auth = AuthServiceClient::new(connect(url, config).await?);
    let request =
        pb::SignInRequest { login: login.to_owned(), password: password.to_owned(), device_id: device.id.clone() };
    SignedIn::from_session(within(config.request_timeout, auth.sign_in(request)).await??)
}

/// Enrols this device with a one-time code a manager issued.
pub(crate) async fn with_code(url: &str, code: &str, device: &Device, config: &Config) -> Result<SignedIn> {
    let mut auth = AuthServiceClient::new(connect(url, config).await?);
    let request = pb::EnrolRequest {
        enrolment_code: code.to_owned(),
        device_id: device.id.clone(),
        public_key: onsite_proto::signoff::public_key(&device.secret).to_vec(),
        label: config.device_label.clone(),
    };
    let enrolled = within(config.request_timeout, auth.enrol(request)).await??;
    SignedIn::from_session(enrolled.session.ok_or_else(|| SdkError::Network("the server sent no session".into()))?)
}

/// Keeps the tokens of a sign-in (in the store, which the app's key encrypts).
pub(crate) fn keep(txn: &rusqlite::Connection, signed: &SignedIn) -> Result<()> {
    store::set_meta(txn, key::TOKEN, &signed.access_token)?;
    store::set_meta(txn, key::REFRESH_TOKEN, signed.refresh_token.as_deref().unwrap_or_default())?;
    store::set_meta(
        txn,
        key::ACCESS_EXPIRES_MS,
        signed.access_expires_ms.map(|ms| ms.to_string()).unwrap_or_default(),
    )?;
    store::set_meta(txn, key::SESSION_ENDED, "")
}

/// The bearer token for the next calls, refreshed first when it is about to expire (or when
/// `expired`: the server said so, whatever the device clock thinks).
pub(crate) async fn bearer(engine: &Engine, channel: &Channel, expired: bool) -> Result<String> {
    let (token, refresh, expires_ms, ended) = {
        let store = engine.lock()?;
        let conn = store.read();
        (
            store::meta_text(conn, key::TOKEN)?.filter(|t| !t.is_empty()),
            store::meta_text(conn, key::REFRESH_TOKEN)?.filter(|t| !t.is_empty()),
            store::meta_int(conn, key::ACCESS_EXPIRES_MS)?,
            store::meta_text(conn, key::SESSION_ENDED)?.filter(|r| !r.is_empty()),
        )
    };
    if let Some(reason) = ended {
        return Err(SdkError::SessionEnded { reason });
    }
    let token = token.ok_or(SdkError::NotSignedIn)?;
    let Some(refresh) = refresh else { return Ok(token) };
    let ahead = i64::try_from(REFRESH_AHEAD.as_millis()).unwrap_or(i64::MAX);
    let due = expired || expires_ms.saturating_sub(engine.now().timestamp_millis()) < ahead;
    if !due {
        return Ok(token);
    }
    let mut auth = AuthServiceClient::new(channel.clone());
    let answer =
        within(engine.config.request_timeout, auth.refresh(pb::RefreshRequest { refresh_token: refresh })).await?;
    match answer {
        Ok(session) => {
            let signed = SignedIn::from_session(session)?;
            engine.lock()?.write(|txn| keep(txn, &signed))?;
            Ok(signed.access_token)
        }
        Err(status) => match SdkError::from(status) {
            // The session is over (ended, reused, expired): only a new sign-in helps. The
            // engineer's records stay queued for it.
            SdkError::Refused { reason, .. } => {
                engine.lock()?.write(|txn| {
                    store::set_meta(txn, key::TOKEN, "")?;
                    store::set_meta(txn, key::REFRESH_TOKEN, "")?;
                    store::set_meta(txn, key::SESSION_ENDED, &reason)
                })?;
                Err(SdkError::SessionEnded { reason })
            }
            other => Err(other),
        },
    }
}

/// Ends the session on the server when it can be reached soon; signing out works offline.
pub(crate) async fn sign_out(engine: &Engine) {
    let (url, token) = {
        let Ok(store) = engine.lock() else { return };
        let conn = store.read();
        let refresh = store::meta_text(conn, key::REFRESH_TOKEN).ok().flatten().filter(|t| !t.is_empty());
        (
            store::meta_text(conn, key::SERVER_URL).ok().flatten(),
            refresh.and(store::meta_text(conn, key::TOKEN).ok().flatten()),
        )
    };
    let (Some(url), Some(token)) = (url, token) else { return };
    let wait = engine.config.request_timeout.min(SIGN_OUT_WAIT);
    let config = Config { request_timeout: wait, ..engine.config.clone() };
    if let Ok(channel) = connect(&url, &config).await {
        let mut auth = AuthServiceClient::new(channel);
        let _ = within(wait, auth.sign_out(authed(&token, pb::SignOutRequest {}))).await;
    }
}
