//! Engineers' devices: one per sign-in on a phone, holding the Ed25519 key that signs
//! sign-offs and the sequence of ops applied from it.

use chrono::{DateTime, Utc};
use onsite_proto::v1 as pb;
use prost::Message;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QuerySelect, Set};

use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::store::entities::{device, device_op};
use crate::store::to_us;

/// A device as it registers.
#[derive(Debug)]
pub struct NewDevice {
    pub id: String,
    pub public_key: Vec<u8>,
    pub label: String,
}

/// Registers a device for the caller, or confirms an earlier registration with the same key.
pub async fn register(
    db: &impl ConnectionTrait,
    caller: &Caller,
    new: NewDevice,
    now: DateTime<Utc>,
) -> Result<device::Model> {
    if let Some(existing) = device::Entity::find_by_id(new.id.clone()).one(db).await? {
        return if existing.user_id == caller.user_id.to_string() && existing.public_key == new.public_key {
            refuse_revoked(&existing)?;
            Ok(existing)
        } else {
            Err(Error::AlreadyExists {
                reason: "DEVICE_ID_TAKEN",
                message: "this device id is registered with another key or user; start a new device id".into(),
            })
        };
    }
    let model = device::Model {
        id: new.id,
        user_id: caller.user_id.to_string(),
        engineer_id: caller.engineer_id.map(|e| e.to_string()),
        public_key: new.public_key,
        label: new.label,
        last_applied_seq: 0,
        registered_at_us: to_us(now),
        last_push_at_us: None,
        revoked_at_us: None,
        revoke_reason: None,
    };
    device::Entity::insert(device::ActiveModel::from(model.clone())).exec(db).await?;
    Ok(model)
}

/// A device by id, whoever's it is.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<device::Model>> {
    Ok(device::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// The caller's device; `lock` serialises pushes of one device on its row.
pub async fn load_own(db: &impl ConnectionTrait, caller: &Caller, id: &str, lock: bool) -> Result<device::Model> {
    let mut query = device::Entity::find_by_id(id.to_owned());
    if lock && db.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    query
        .one(db)
        .await?
        .filter(|d| d.user_id == caller.user_id.to_string())
        .ok_or_else(|| Error::precondition("DEVICE_NOT_REGISTERED", "register this device before syncing"))
}

/// DEVICE_REVOKED for a phone a manager cut off.
pub fn refuse_revoked(device: &device::Model) -> Result<()> {
    match device.revoked_at_us {
        None => Ok(()),
        Some(_) => Err(Error::precondition(
            "DEVICE_REVOKED",
            format!(
                "a manager revoked this phone ({}); sign in again on a phone in your hands",
                device.revoke_reason.as_deref().unwrap_or("no reason given")
            ),
        )),
    }
}

/// An engineer's devices, newest first.
pub async fn of_engineer(db: &impl ConnectionTrait, engineer_id: &str) -> Result<Vec<device::Model>> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    Ok(device::Entity::find()
        .filter(device::Column::EngineerId.eq(engineer_id))
        .order_by_desc(device::Column::RegisteredAtUs)
        .all(db)
        .await?)
}

/// Cuts a device off; revoking it again keeps the first revocation.
pub async fn revoke(db: &impl ConnectionTrait, id: &str, reason: &str, now: DateTime<Utc>) -> Result<device::Model> {
    let current =
        device::Entity::find_by_id(id.to_owned()).one(db).await?.ok_or_else(|| Error::not_found("device", id))?;
    if current.revoked_at_us.is_some() {
        return Ok(current);
    }
    let revoked = device::ActiveModel {
        id: Set(current.id.clone()),
        revoked_at_us: Set(Some(to_us(now))),
        revoke_reason: Set(Some(reason.to_owned())),
        ..Default::default()
    };
    Ok(revoked.update(db).await?)
}

/// A result to store, with what the table indexes it by.
#[derive(Debug)]
pub struct StoredResult {
    pub result: pb::OpResult,
    pub outcome: &'static str,
    pub slip_id: String,
}

/// Stores the results of a batch's ops in one statement.
pub async fn store_results(
    db: &impl ConnectionTrait,
    device_id: &str,
    results: &[StoredResult],
    now: DateTime<Utc>,
) -> Result<()> {
    if results.is_empty() {
        return Ok(());
    }
    let rows = results.iter().map(|r| device_op::ActiveModel {
        device_id: Set(device_id.to_owned()),
        device_seq: Set(r.result.device_seq),
        op_id: Set(r.result.op_id.clone()),
        slip_id: Set(r.slip_id.clone()),
        outcome: Set(r.outcome.to_owned()),
        result: Set(r.result.encode_to_vec()),
        applied_at_us: Set(to_us(now)),
    });
    device_op::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

/// The stored results of the ops from `first` to `last` (inclusive), by seq; one query.
pub async fn stored_results(
    db: &impl ConnectionTrait,
    device_id: &str,
    first: i64,
    last: i64,
) -> Result<std::collections::HashMap<i64, pb::OpResult>> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let rows = device_op::Entity::find()
        .filter(device_op::Column::DeviceId.eq(device_id))
        .filter(device_op::Column::DeviceSeq.between(first, last))
        .all(db)
        .await?;
    rows.iter()
        .map(|row| {
            let result = pb::OpResult::decode(row.result.as_slice())
                .map_err(|e| Error::Internal(format!("stored op result: {e}")))?;
            Ok((row.device_seq, result))
        })
        .collect()
}

/// Moves the device's checkpoint to `seq`.
pub async fn advance(db: &impl ConnectionTrait, device: &device::Model, seq: i64, now: DateTime<Utc>) -> Result<()> {
    device::ActiveModel {
        id: Set(device.id.clone()),
        last_applied_seq: Set(seq),
        last_push_at_us: Set(Some(to_us(now))),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}
