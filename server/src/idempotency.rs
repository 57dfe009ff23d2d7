//! Idempotent mutations (AIP-155).
//!
//! A mutation runs in one write transaction together with the row that stores its response
//! under (caller, request id). A retry finds the row and gets the first response back; the
//! same id with a different request is refused. Failed mutations store nothing, so a retry
//! of a refused request is decided again.

use std::future::Future;

use prost::Message;
use sea_orm::{DatabaseTransaction, EntityTrait, Set, SqlErr};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::store::entities::idempotency_key;
use crate::store::{begin_write, now_us};

/// Runs `mutation` once per (caller, `request_id`). An empty request id runs it unguarded.
pub async fn run<Req, Resp, F, Fut>(
    app: &App,
    caller: &Caller,
    method: &str,
    request_id: &str,
    request: &Req,
    mutation: F,
) -> Result<Resp>
where
    Req: Message,
    Resp: Message + Default,
    F: FnOnce(DatabaseTransaction) -> Fut,
    Fut: Future<Output = Result<(DatabaseTransaction, Resp)>>,
{
    run_redacted(app, caller, method, request_id, request, |r: &Resp| r.encode_to_vec(), mutation).await
}

/// Like [`run`], but stores `redact(response)`: for responses that carry a secret.
pub async fn run_redacted<Req, Resp, F, Fut>(
    app: &App,
    caller: &Caller,
    method: &str,
    request_id: &str,
    request: &Req,
    redact: impl Fn(&Resp) -> Vec<u8>,
    mutation: F,
) -> Result<Resp>
where
    Req: Message,
    Resp: Message + Default,
    F: FnOnce(DatabaseTransaction) -> Fut,
    Fut: Future<Output = Result<(DatabaseTransaction, Resp)>>,
{
    if request_id.is_empty() {
        let txn = begin_write(&app.db).await?;
        let (txn, response) = mutation(txn).await?;
        txn.commit().await?;
        app.committed().await;
        return Ok(response);
    }
    if uuid::Uuid::parse_str(request_id).is_err() {
        return Err(Error::invalid("request_id", "must be a UUID"));
    }
    let key = format!("{}:{request_id}", caller.user_id);
    let hash = request_hash(method, request);
    let txn = begin_write(&app.db).await?;
    if let Some(stored) = idempotency_key::Entity::find_by_id(key.clone()).one(&txn).await? {
        return replay(&stored, method, &hash);
    }
    let (txn, response) = mutation(txn).await?;
    let row = idempotency_key::ActiveModel {
        key: Set(key.clone()),
        method: Set(method.to_owned()),
        request_hash: Set(hash.clone()),
        response: Set(redact(&response)),
        created_at_us: Set(now_us()),
    };
    let stored = match idempotency_key::Entity::insert(row).exec(&txn).await {
        Ok(_) => txn.commit().await,
        Err(e) => Err(e),
    };
    match stored {
        Ok(()) => {
            app.committed().await;
            Ok(response)
        }
        // A concurrent retry of the same request committed first: answer with its result.
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            let stored = idempotency_key::Entity::find_by_id(key).one(&app.db).await?.ok_or(Error::Database(e))?;
            replay(&stored, method, &hash)
        }
        Err(e) => Err(e.into()),
    }
}

fn replay<Resp: Message + Default>(stored: &idempotency_key::Model, method: &str, hash: &str) -> Result<Resp> {
    if stored.method != method || stored.request_hash != hash {
        return Err(Error::RequestIdReused);
    }
    Resp::decode(stored.response.as_slice()).map_err(|e| Error::Internal(format!("stored response: {e}")))
}

fn request_hash(method: &str, request: &impl Message) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(request.encode_to_vec());
    hex::encode(h.finalize())
}
