//! Content-addressed attachments, uploaded in chunks of at most 1 MiB.
//!
//! Every chunk is committed on its own, so an upload cut anywhere resumes at the offset the
//! server reports. When the last byte arrives the chunks are hashed in order; a mismatch
//! discards them and the device starts again. A complete attachment is never uploaded twice.
//!
//! An upload in progress is its uploader's: nobody else sees its progress or adds to it (which
//! could spoil it), until it has stalled for a day. A complete attachment is anyone's who can
//! name its hash, that is, who holds the same bytes.

use onsite_core::error::Violations;
use onsite_proto::v1 as pb;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};

use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::store::entities::{attachment, attachment_chunk};
use crate::store::now_us;
use onsite_core::op::is_sha256_hex;

/// Largest chunk.
pub const MAX_CHUNK: usize = 1024 * 1024;
/// Largest attachment (a photo series of a backup, a scanned waiver).
pub const MAX_SIZE: i64 = 64 * 1024 * 1024;
const CONTENT_TYPES: &[&str] = &["image/png", "image/jpeg", "application/pdf"];
/// How long an abandoned upload keeps others from uploading the same bytes.
const ABANDONED_AFTER_US: i64 = 24 * 3600 * 1_000_000;

/// How much of `sha256` the server has, as far as the caller may know.
pub async fn status(db: &impl ConnectionTrait, caller: &Caller, sha256: &str) -> Result<pb::AttachmentStatus> {
    if !is_sha256_hex(sha256) {
        return Err(Error::invalid("sha256", "must be 64 lower-case hex digits"));
    }
    let row = attachment::Entity::find_by_id(sha256.to_owned()).one(db).await?;
    Ok(view(sha256, row.as_ref().filter(|a| a.complete || is_uploader(a, caller))))
}

fn is_uploader(row: &attachment::Model, caller: &Caller) -> bool {
    row.uploaded_by == caller.user_id.to_string()
}

fn view(sha256: &str, row: Option<&attachment::Model>) -> pb::AttachmentStatus {
    pb::AttachmentStatus {
        sha256: sha256.to_owned(),
        received: row.map_or(0, |a| a.received),
        complete: row.is_some_and(|a| a.complete),
    }
}

/// What the first chunk of an upload announces.
#[derive(Debug, Clone)]
pub struct Upload {
    pub sha256: String,
    pub total_size: i64,
    pub content_type: String,
}

impl Upload {
    /// Validates the first chunk.
    pub fn start(first: &pb::AttachmentChunk) -> Result<Self> {
        let mut v = Violations::new();
        if !is_sha256_hex(&first.sha256) {
            v.push("sha256", "the first chunk must carry the 64 lower-case hex digits of the whole attachment");
        }
        if !(1..=MAX_SIZE).contains(&first.total_size) {
            v.push("total_size", format!("the first chunk must carry the size, 1 to {MAX_SIZE} bytes"));
        }
        if !CONTENT_TYPES.contains(&first.content_type.as_str()) {
            v.push("content_type", format!("the first chunk must carry one of {}", CONTENT_TYPES.join(", ")));
        }
        // Photos and signatures are bounded as the phone bounds them (`onsite_core::image`).
        let image_limit = i64::try_from(onsite_core::image::MAX_PHOTO_BYTES).unwrap_or(MAX_SIZE);
        if first.content_type.starts_with("image/") && first.total_size > image_limit {
            v.push("total_size", "an image is at most 10 MiB");
        }
        v.check()?;
        Ok(Self {
            sha256: first.sha256.clone(),
            total_size: first.total_size,
            content_type: first.content_type.clone(),
        })
    }
}

/// Stores one chunk in its own transaction and returns the new status.
pub async fn append(
    db: &sea_orm::DatabaseConnection,
    caller: &Caller,
    upload: &Upload,
    chunk: &pb::AttachmentChunk,
) -> Result<pb::AttachmentStatus> {
    if chunk.data.len() > MAX_CHUNK {
        return Err(Error::invalid("data", "a chunk carries at most 1 MiB"));
    }
    if (!chunk.sha256.is_empty() && chunk.sha256 != upload.sha256)
        || (chunk.total_size != 0 && chunk.total_size != upload.total_size)
    {
        return Err(Error::invalid("sha256", "all chunks of one upload must be of one attachment"));
    }
    let txn = crate::store::begin_write(db).await?;
    let existing = attachment::Entity::find_by_id(upload.sha256.clone()).one(&txn).await?;
    let existing = match existing {
        Some(row) if !row.complete && !is_uploader(&row, caller) => {
            if now_us().saturating_sub(row.created_at_us) < ABANDONED_AFTER_US {
                return Err(Error::precondition(
                    "UPLOAD_IN_PROGRESS",
                    "the same bytes are being uploaded by someone else; try again later",
                ));
            }
            discard(&txn, &row.sha256).await?;
            None
        }
        other => other,
    };
    let row = match existing {
        Some(row) => row,
        None => {
            let row = attachment::Model {
                sha256: upload.sha256.clone(),
                content_type: upload.content_type.clone(),
                total_size: upload.total_size,
                received: 0,
                complete: false,
                uploaded_by: caller.user_id.to_string(),
                created_at_us: now_us(),
            };
            attachment::Entity::insert(attachment::ActiveModel::from(row.clone())).exec(&txn).await?;
            row
        }
    };
    if row.complete || chunk.data.is_empty() {
        return Ok(view(&row.sha256, Some(&row)));
    }
    if row.total_size != upload.total_size {
        return Err(Error::invalid("total_size", "differs from the size this upload started with"));
    }
    if chunk.offset != row.received {
        return Err(Error::precondition(
            "UPLOAD_OFFSET_MISMATCH",
            format!("the server has {} bytes; send the chunk at that offset", row.received),
        ));
    }
    let received = row.received + chunk.data.len() as i64;
    if received > row.total_size {
        return Err(Error::invalid("data", "the chunks exceed total_size"));
    }
    attachment_chunk::Entity::insert(attachment_chunk::ActiveModel {
        sha256: Set(row.sha256.clone()),
        start_offset: Set(chunk.offset),
        data: Set(chunk.data.clone()),
    })
    .exec(&txn)
    .await?;
    let mut complete = false;
    if received == row.total_size {
        if hash_of(&txn, &row.sha256).await? == row.sha256 {
            complete = true;
        } else {
            discard(&txn, &row.sha256).await?;
            txn.commit().await?;
            return Err(Error::invalid("sha256", "the uploaded bytes do not hash to sha256; upload again"));
        }
    }
    let saved = attachment::ActiveModel {
        sha256: Set(row.sha256.clone()),
        received: Set(received),
        complete: Set(complete),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    txn.commit().await?;
    Ok(view(&saved.sha256, Some(&saved)))
}

/// Deletes an upload and what arrived of it.
async fn discard(db: &impl ConnectionTrait, sha256: &str) -> Result<()> {
    attachment_chunk::Entity::delete_many().filter(attachment_chunk::Column::Sha256.eq(sha256)).exec(db).await?;
    attachment::Entity::delete_by_id(sha256.to_owned()).exec(db).await?;
    Ok(())
}

async fn hash_of(db: &impl ConnectionTrait, sha256: &str) -> Result<String> {
    let chunks = attachment_chunk::Entity::find()
        .filter(attachment_chunk::Column::Sha256.eq(sha256))
        .order_by_asc(attachment_chunk::Column::StartOffset)
        .all(db)
        .await?;
    let mut hasher = Sha256::new();
    for chunk in &chunks {
        hasher.update(&chunk.data);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The bytes of a complete attachment.
pub async fn content(db: &impl ConnectionTrait, sha256: &str) -> Result<Option<Vec<u8>>> {
    let complete = attachment::Entity::find_by_id(sha256.to_owned()).one(db).await?.is_some_and(|a| a.complete);
    if !complete {
        return Ok(None);
    }
    let chunks = attachment_chunk::Entity::find()
        .filter(attachment_chunk::Column::Sha256.eq(sha256))
        .order_by_asc(attachment_chunk::Column::StartOffset)
        .all(db)
        .await?;
    Ok(Some(chunks.into_iter().flat_map(|c| c.data).collect()))
}
