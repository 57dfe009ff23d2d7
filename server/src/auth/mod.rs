//! Who the caller is: bearer tokens resolved to callers, and how a client gets a token: password
//! sign-in, one-time setup and enrolment codes, rotating refresh tokens.
//!
//! - `tokens.rs`: API and access tokens, stored as SHA-256 only.
//! - `cache.rs`: callers verified in the last second, so most calls skip the lookup.
//! - `password.rs`: Argon2id hashing, bounded and off the async threads.
//! - `codes.rs`: one-time setup and enrolment codes.
//! - `sessions.rs`: sessions and refresh-token rotation with reuse detection.
//! - `users.rs`: users, logins, the first-start administrator.
//! - `sign_in.rs`: the flows the `AuthService` calls, each with its audit entry.

pub mod cache;
pub mod codes;
pub mod password;
pub mod sessions;
pub mod sign_in;
pub mod tokens;
pub mod users;

use sea_orm::{ConnectionTrait, Value};
use tonic::metadata::MetadataMap;

use crate::caller::{Caller, DeviceScope};
use crate::error::{Error, Result};

/// Resolves the `authorization: Bearer <token>` header to a caller. An expired access token is
/// TOKEN_EXPIRED, so the client knows to refresh; a revoked phone's token still resolves, with
/// its revocation, for the one call that hands in its records.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    callers: &cache::Callers,
    metadata: &MetadataMap,
    now_us: i64,
) -> Result<Caller> {
    let header = metadata.get("authorization").and_then(|v| v.to_str().ok()).ok_or(Error::Unauthenticated)?;
    let token =
        header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).ok_or(Error::Unauthenticated)?.trim();
    let hash = tokens::hash_token(token);
    if let Some(known) = callers.get(&hash, now_us) {
        return known;
    }
    let (caller, expires_at_us) = look_up(db, &hash, now_us).await?;
    callers.put(hash, caller.clone(), expires_at_us);
    Ok(caller)
}

/// The caller of a token hash, and when the token expires: one query.
async fn look_up(db: &impl ConnectionTrait, hash: &str, now_us: i64) -> Result<(Caller, Option<i64>)> {
    let row = crate::repo::query_one(
        db,
        "SELECT u.id AS user_id, u.role AS role, u.engineer_id AS engineer_id, t.session_id AS session_id,
            t.device_id AS device_id, t.expires_at_us AS expires_at_us,
            d.revoked_at_us AS device_revoked_at_us, d.revoke_reason AS revoke_reason
         FROM api_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN devices d ON d.id = t.device_id
         WHERE t.token_hash = $1 AND t.revoked_at_us IS NULL",
        vec![Value::from(hash)],
    )
    .await?
    .ok_or(Error::Unauthenticated)?;
    let column = |name: &str| Error::Internal(format!("token lookup: column {name}"));
    let expires_at_us: Option<i64> = row.try_get("", "expires_at_us").map_err(|_| column("expires_at_us"))?;
    if expires_at_us.is_some_and(|at| at <= now_us) {
        return Err(Error::TokenExpired);
    }
    let user_id: String = row.try_get("", "user_id").map_err(|_| column("user_id"))?;
    let role: String = row.try_get("", "role").map_err(|_| column("role"))?;
    let engineer_id: Option<String> = row.try_get("", "engineer_id").map_err(|_| column("engineer_id"))?;
    let device_id: Option<String> = row.try_get("", "device_id").map_err(|_| column("device_id"))?;
    let revoked_at: Option<i64> =
        row.try_get("", "device_revoked_at_us").map_err(|_| column("device_revoked_at_us"))?;
    let revoke_reason: Option<String> = row.try_get("", "revoke_reason").map_err(|_| column("revoke_reason"))?;
    let bad = |what: &str| Error::Internal(format!("user {user_id} has a bad {what}"));
    let caller = Caller {
        user_id: user_id.parse().map_err(|_| bad("id"))?,
        role: role.parse().map_err(|()| bad("role"))?,
        engineer_id: engineer_id.as_deref().map(str::parse).transpose().map_err(|_| bad("engineer id"))?,
        session_id: row.try_get("", "session_id").map_err(|_| column("session_id"))?,
        device: device_id.map(|id| DeviceScope {
            id,
            revoked: revoked_at.map(|_| revoke_reason.unwrap_or_else(|| "no reason given".to_owned())),
        }),
    };
    Ok((caller, expires_at_us))
}
