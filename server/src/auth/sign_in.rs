//! How a client gets tokens: a password, a one-time setup code, a phone's enrolment code, or a
//! refresh token. Each flow records its outcome in the audit log; a failure says only
//! BAD_CREDENTIALS, whatever the cause.

use chrono::Utc;
use sea_orm::{DatabaseConnection, DatabaseTransaction};

use super::cache::Callers;
use super::codes::{self, Purpose};
use super::password::{self, Hasher};
use super::sessions::{self, Issued, Lifetimes, Refreshed};
use super::users;
use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::repo::audit::{self, Entry, Kind};
use crate::repo::devices::{self, NewDevice};
use crate::store::{begin_write, entities::user, now_us, to_us};

/// What every flow works with.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub db: &'a DatabaseConnection,
    pub hasher: &'a Hasher,
    /// Forgets cached callers when a flow revokes something.
    pub callers: &'a Callers,
    pub lifetimes: Lifetimes,
    /// Where the attempt comes from, for the audit log.
    pub address: &'a str,
}

/// Signs in with a login and password; the session is scoped to `device_id` when a phone signs in.
pub async fn with_password(
    cx: &Context<'_>,
    login: &str,
    password: &str,
    device_id: Option<&str>,
) -> Result<(Issued, user::Model)> {
    let db = cx.db;
    let login = users::normal_login(login, "login").ok();
    let user = match &login {
        Some(login) => users::by_login(db, login).await?,
        None => None,
    };
    let hash = match &user {
        Some(user) => users::password_hash(db, &user.id).await?,
        None => None,
    };
    // Verified even for an unknown login, so both take the same time.
    let Some(user) = user else {
        cx.hasher.verify(password, None).await?;
        return failed(cx, None, login.as_deref().unwrap_or("(malformed login)")).await;
    };
    if !cx.hasher.verify(password, hash).await? {
        return failed(cx, Some(&user.id), login.as_deref().unwrap_or_default()).await;
    }
    let txn = begin_write(db).await?;
    let now = now_us();
    if let Some(device_id) = device_id
        && let Some(device) = devices::find(&txn, device_id).await?
    {
        // A revoked phone stays cut off: a new sign-in starts on a new device id.
        if device.revoked_at_us.is_some() {
            return Err(Error::DeviceRevoked(device.revoke_reason.unwrap_or_else(|| "no reason given".into())));
        }
    }
    let issued = sessions::open(&txn, &user.id, device_id, cx.lifetimes, now).await?;
    let subject = login.unwrap_or_default();
    let entry = Entry {
        kind: Kind::SignIn,
        user_id: Some(&user.id),
        subject: &subject,
        address: cx.address,
        detail: "password",
    };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok((issued, user))
}

/// Sets a password with a one-time setup code, ends the user's other sessions, and signs in.
pub async fn complete_setup(cx: &Context<'_>, code: &str, new_password: &str) -> Result<(Issued, user::Model)> {
    password::check_new(new_password, "new_password")?;
    let phc = cx.hasher.hash(new_password).await?;
    let (txn, user_id, now) = redeem(cx, code, Purpose::Setup).await?;
    let user = users::load(&txn, &user_id).await?;
    users::set_password_hash(&txn, &user_id, phc, now).await?;
    sessions::end_all(&txn, &user_id, "a new password was set", now).await?;
    let issued = sessions::open(&txn, &user_id, None, cx.lifetimes, now).await?;
    let subject = user.login.clone().unwrap_or_default();
    let entry = Entry {
        kind: Kind::SetupCompleted,
        user_id: Some(&user_id),
        subject: &subject,
        address: cx.address,
        detail: "password set",
    };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    cx.callers.forget_all();
    Ok((issued, user))
}

/// Enrols a phone with a one-time enrolment code: registers its key for the code's engineer and
/// opens a session scoped to it.
pub async fn enrol(cx: &Context<'_>, code: &str, device: NewDevice) -> Result<(Issued, user::Model)> {
    let (txn, user_id, now) = redeem(cx, code, Purpose::Enrolment).await?;
    let user = users::load(&txn, &user_id).await?;
    let caller = users::caller_of(&user)?;
    let registered = devices::register(&txn, &caller, device, Utc::now()).await?;
    let issued = sessions::open(&txn, &user_id, Some(&registered.id), cx.lifetimes, now).await?;
    let detail = format!("device {} ({})", registered.id, registered.label);
    let entry = Entry {
        kind: Kind::Enrolled,
        user_id: Some(&user_id),
        subject: &registered.id,
        address: cx.address,
        detail: &detail,
    };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok((issued, user))
}

/// Swaps a refresh token for the next pair; a reused one ends its session.
pub async fn refresh(cx: &Context<'_>, token: &str) -> Result<(Issued, user::Model)> {
    let txn = begin_write(cx.db).await?;
    let now = now_us();
    match sessions::refresh(&txn, token, cx.lifetimes, now).await {
        Ok(Refreshed::Swapped { issued, voided }) => {
            let user = users::load(&txn, &issued.user_id).await?;
            txn.commit().await?;
            if voided {
                cx.callers.forget_all();
            }
            Ok((issued, user))
        }
        Ok(Refreshed::Reused { session_id, user_id }) => {
            let entry = Entry {
                kind: Kind::RefreshReused,
                user_id: Some(&user_id),
                subject: &session_id,
                address: cx.address,
                detail: "a refresh token was presented twice; the session was ended",
            };
            audit::record(&txn, entry, now).await?;
            txn.commit().await?;
            cx.callers.forget_all();
            Err(Error::RefreshReused)
        }
        Err(e) => {
            txn.rollback().await?;
            refused(cx, e, "refresh token").await
        }
    }
}

/// Ends the caller's session.
pub async fn sign_out(cx: &Context<'_>, caller: &Caller) -> Result<()> {
    let db = cx.db;
    let Some(session_id) = &caller.session_id else {
        return Err(Error::precondition("NOT_A_SESSION", "an API token is not signed out; an admin revokes it"));
    };
    let txn = begin_write(db).await?;
    let now = to_us(Utc::now());
    sessions::end(&txn, session_id, "signed out", now).await?;
    let user_id = caller.user_id.to_string();
    let entry =
        Entry { kind: Kind::SignedOut, user_id: Some(&user_id), subject: session_id, address: cx.address, detail: "" };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    cx.callers.forget_all();
    Ok(())
}

/// How long an enrolment code works: a day to get the phone into the engineer's hands.
pub const ENROLMENT_CODE_TTL_US: i64 = 24 * 3600 * 1_000_000;
/// How long a setup code works.
pub const SETUP_CODE_TTL_US: i64 = 3 * 24 * 3600 * 1_000_000;

/// Issues a one-time code for `user_id` (voiding their earlier ones of the same purpose) and
/// records who issued it; returns the code and when it expires.
pub async fn issue_code(
    cx: &Context<'_>,
    user_id: &str,
    purpose: Purpose,
    issued_by: Option<&Caller>,
) -> Result<(String, i64)> {
    let ttl = match purpose {
        Purpose::Setup => SETUP_CODE_TTL_US,
        Purpose::Enrolment => ENROLMENT_CODE_TTL_US,
    };
    let issuer = issued_by.map(|c| c.user_id.to_string());
    let txn = begin_write(cx.db).await?;
    let now = now_us();
    let issued = codes::issue(&txn, user_id, purpose, issuer.as_deref(), now, ttl).await?;
    let detail = purpose.describe();
    let entry =
        Entry { kind: Kind::CodeIssued, user_id: issuer.as_deref(), subject: user_id, address: cx.address, detail };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok(issued)
}

/// Uses a one-time code in a new transaction: the transaction, the code's user, and the time.
/// A refused code is recorded (after the rollback, so the record stays).
async fn redeem(cx: &Context<'_>, code: &str, purpose: Purpose) -> Result<(DatabaseTransaction, String, i64)> {
    let txn = begin_write(cx.db).await?;
    let now = now_us();
    match codes::consume(&txn, code, purpose, now).await {
        Ok(user_id) => Ok((txn, user_id, now)),
        Err(e) => {
            txn.rollback().await?;
            refused(cx, e, purpose.describe()).await
        }
    }
}

/// Records a failed password sign-in and answers BAD_CREDENTIALS.
async fn failed<T>(cx: &Context<'_>, user_id: Option<&str>, login: &str) -> Result<T> {
    // At most a login's length of what was typed is kept: never a password pasted in the wrong field.
    let subject: String = login.chars().take(64).collect();
    let entry = Entry { kind: Kind::SignInFailed, user_id, subject: &subject, address: cx.address, detail: "password" };
    audit::record(cx.db, entry, now_us()).await?;
    Err(Error::BadCredentials)
}

/// Records a refused code or refresh token (`what`), and passes the error on.
async fn refused<T>(cx: &Context<'_>, error: Error, what: &str) -> Result<T> {
    if matches!(error, Error::BadCredentials) {
        let entry = Entry { kind: Kind::SignInFailed, user_id: None, subject: what, address: cx.address, detail: what };
        audit::record(cx.db, entry, now_us()).await?;
    }
    Err(error)
}
