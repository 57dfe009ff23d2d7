//! Sessions: what a sign-in gives. A short-lived access token and a refresh token; the refresh
//! token works once and is swapped for the next pair. Presenting one already swapped means it
//! leaked (or a client is broken): the whole session ends.
//!
//! One exception keeps a phone on a bad link signed in: when the answer to a swap is lost, the
//! phone retries with the same refresh token. Within [`RETRY_GRACE_US`] of the swap, while the
//! pair it gave has not been used, the retry voids that pair and gets a new one.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::tokens::{self, NewToken, REFRESH_PREFIX, hash_token, new_secret};
use crate::error::{Error, Result};
use crate::store::entities::{refresh_token, session};

/// How long a retried swap may reuse its refresh token: long enough for a phone's retry after
/// a lost answer, too short to be worth stealing.
pub const RETRY_GRACE_US: i64 = 30_000_000;

/// How long tokens live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetimes {
    pub access_us: i64,
    pub refresh_us: i64,
}

impl Lifetimes {
    /// 15 minutes of access; 30 days to come back and refresh (an engineer's phone may stay
    /// offline for weeks on a long site job).
    pub const DEFAULT: Self = Self { access_us: 15 * 60 * 1_000_000, refresh_us: 30 * 24 * 3600 * 1_000_000 };
}

/// The tokens of a session, shown once.
#[derive(Debug)]
pub struct Issued {
    pub session_id: String,
    pub user_id: String,
    pub access_token: String,
    pub access_expires_us: i64,
    pub refresh_token: String,
    pub refresh_expires_us: i64,
}

/// Opens a session for `user_id`, scoped to `device_id` when a phone signs in.
pub async fn open(
    db: &impl ConnectionTrait,
    user_id: &str,
    device_id: Option<&str>,
    lifetimes: Lifetimes,
    now_us: i64,
) -> Result<Issued> {
    let model = session::Model {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user_id.to_owned(),
        device_id: device_id.map(str::to_owned),
        created_at_us: now_us,
        revoked_at_us: None,
        revoke_reason: None,
    };
    session::Entity::insert(session::ActiveModel::from(model.clone())).exec(db).await?;
    let (issued, _) = issue_pair(db, &model, lifetimes, now_us).await?;
    Ok(issued)
}

/// What a refresh did.
#[derive(Debug)]
pub enum Refreshed {
    /// The next pair; `voided` when a retry voided the pair of a lost answer.
    Swapped { issued: Issued, voided: bool },
    /// The token was used before: the session has been ended.
    Reused { session_id: String, user_id: String },
}

/// Swaps `refresh` for the next pair of its session.
pub async fn refresh(db: &impl ConnectionTrait, refresh: &str, lifetimes: Lifetimes, now_us: i64) -> Result<Refreshed> {
    let token = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_token(refresh)))
        .one(db)
        .await?
        .ok_or(Error::BadCredentials)?;
    let session = session::Entity::find_by_id(token.session_id.clone()).one(db).await?.ok_or(Error::BadCredentials)?;
    if session.revoked_at_us.is_some() || token.expires_at_us <= now_us {
        return Err(Error::BadCredentials);
    }
    let voided = token.used_at_us.is_some();
    match token.used_at_us {
        None => {
            // Claimed atomically: of two concurrent swaps of one token, the second is a reuse.
            let claimed = refresh_token::Entity::update_many()
                .set(refresh_token::ActiveModel { used_at_us: Set(Some(now_us)), ..Default::default() })
                .filter(refresh_token::Column::Id.eq(token.id.as_str()))
                .filter(refresh_token::Column::UsedAtUs.is_null())
                .exec(db)
                .await?;
            if claimed.rows_affected != 1 {
                return end_reused(db, &session, now_us).await;
            }
        }
        Some(used_at) => {
            let retry = now_us.saturating_sub(used_at) <= RETRY_GRACE_US
                && unused_successor(db, &token).await?.is_some_and(|next| {
                    // The pair the lost answer carried is voided below; nobody has seen it.
                    next.used_at_us.is_none()
                });
            if !retry {
                return end_reused(db, &session, now_us).await;
            }
            void_successor(db, &token, now_us).await?;
        }
    }
    let (issued, successor_id) = issue_pair(db, &session, lifetimes, now_us).await?;
    refresh_token::Entity::update_many()
        .set(refresh_token::ActiveModel { successor_id: Set(Some(successor_id)), ..Default::default() })
        .filter(refresh_token::Column::Id.eq(token.id))
        .exec(db)
        .await?;
    Ok(Refreshed::Swapped { issued, voided })
}

/// Ends a session: its refresh token and every access token it gave stop working. Ending an
/// ended session changes nothing.
pub async fn end(db: &impl ConnectionTrait, session_id: &str, reason: &str, now_us: i64) -> Result<()> {
    session::Entity::update_many()
        .set(session::ActiveModel {
            revoked_at_us: Set(Some(now_us)),
            revoke_reason: Set(Some(reason.to_owned())),
            ..Default::default()
        })
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::RevokedAtUs.is_null())
        .exec(db)
        .await?;
    tokens::revoke_session_tokens(db, session_id, now_us).await
}

/// Ends every session of `user_id` (a new password ends the old sign-ins).
pub async fn end_all(db: &impl ConnectionTrait, user_id: &str, reason: &str, now_us: i64) -> Result<()> {
    let open = session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAtUs.is_null())
        .all(db)
        .await?;
    for session in open {
        end(db, &session.id, reason, now_us).await?;
    }
    Ok(())
}

async fn end_reused(db: &impl ConnectionTrait, session: &session::Model, now_us: i64) -> Result<Refreshed> {
    end(db, &session.id, "a refresh token was used twice", now_us).await?;
    Ok(Refreshed::Reused { session_id: session.id.clone(), user_id: session.user_id.clone() })
}

async fn unused_successor(
    db: &impl ConnectionTrait,
    token: &refresh_token::Model,
) -> Result<Option<refresh_token::Model>> {
    let Some(next) = &token.successor_id else { return Ok(None) };
    Ok(refresh_token::Entity::find_by_id(next.clone()).one(db).await?)
}

/// Voids the pair a swap gave: its refresh token counts as used (so presenting it later is a
/// reuse) and its access token stops.
async fn void_successor(db: &impl ConnectionTrait, token: &refresh_token::Model, now_us: i64) -> Result<()> {
    let Some(next) = &token.successor_id else { return Ok(()) };
    refresh_token::Entity::update_many()
        .set(refresh_token::ActiveModel { used_at_us: Set(Some(now_us)), ..Default::default() })
        .filter(refresh_token::Column::Id.eq(next.as_str()))
        .exec(db)
        .await?;
    use crate::store::entities::api_token;
    api_token::Entity::update_many()
        .set(api_token::ActiveModel { revoked_at_us: Set(Some(now_us)), ..Default::default() })
        .filter(api_token::Column::Label.eq(pair_label(next)))
        .filter(api_token::Column::RevokedAtUs.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The access token of a pair is labelled with its refresh token's id, to void them together.
fn pair_label(refresh_id: &str) -> String {
    format!("session access {refresh_id}")
}

/// Issues an access token and a refresh token in `session`; returns them and the refresh
/// token's id.
async fn issue_pair(
    db: &impl ConnectionTrait,
    session: &session::Model,
    lifetimes: Lifetimes,
    now_us: i64,
) -> Result<(Issued, String)> {
    let refresh_id = uuid::Uuid::now_v7().to_string();
    let access_expires_us = now_us.saturating_add(lifetimes.access_us);
    let label = pair_label(&refresh_id);
    let (_, access_token) = tokens::issue(
        db,
        NewToken {
            user_id: &session.user_id,
            label: &label,
            session_id: Some(&session.id),
            device_id: session.device_id.as_deref(),
            expires_at_us: Some(access_expires_us),
        },
        now_us,
    )
    .await?;
    let refresh = new_secret(REFRESH_PREFIX)?;
    let refresh_expires_us = now_us.saturating_add(lifetimes.refresh_us);
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        id: Set(refresh_id.clone()),
        session_id: Set(session.id.clone()),
        token_hash: Set(hash_token(&refresh)),
        created_at_us: Set(now_us),
        expires_at_us: Set(refresh_expires_us),
        used_at_us: Set(None),
        successor_id: Set(None),
    })
    .exec(db)
    .await?;
    let issued = Issued {
        session_id: session.id.clone(),
        user_id: session.user_id.clone(),
        access_token,
        access_expires_us,
        refresh_token: refresh,
        refresh_expires_us,
    };
    Ok((issued, refresh_id))
}
