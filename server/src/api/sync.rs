//! `SyncService`: device registration, op push, change-feed pull and attachment upload.

use chrono::Utc;
use onsite_core::error::Violations;
use onsite_proto::v1::{self as pb, sync_service_server::SyncService};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::handle;
use crate::app::Shared;
use crate::error::{Error, Result};
use crate::repo::devices::{self, NewDevice};
use crate::store::begin_write;
use crate::sync::{attachments, pull, push};

/// The sync service.
#[derive(Clone, Debug)]
pub struct Sync {
    pub shared: Shared,
}

/// A phone as it registers, its fields checked.
pub(super) fn new_device(device_id: &str, public_key: &[u8], label: &str) -> Result<NewDevice> {
    let mut v = Violations::new();
    if uuid::Uuid::parse_str(device_id).is_err() {
        v.push("device_id", "must be a UUID");
    }
    let key_ok = <[u8; 32]>::try_from(public_key).is_ok_and(|k| ed25519_dalek::VerifyingKey::from_bytes(&k).is_ok());
    if !key_ok {
        v.push("public_key", "must be a 32-byte Ed25519 public key");
    }
    v.optional_text("label", label, 200);
    v.check()?;
    Ok(NewDevice { id: device_id.to_owned(), public_key: public_key.to_vec(), label: label.to_owned() })
}

#[tonic::async_trait]
impl SyncService for Sync {
    async fn register_device(
        &self,
        request: Request<pb::RegisterDeviceRequest>,
    ) -> Result<Response<pb::RegisterDeviceResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            if caller.engineer_id.is_none() {
                return Err(Error::PermissionDenied("only an engineer's user registers a device"));
            }
            let req = request.get_ref();
            caller.require_device(&req.device_id)?;
            let new = new_device(&req.device_id, &req.public_key, &req.label)?;
            let txn = begin_write(&app.db).await?;
            let device = devices::register(&txn, &caller, new, Utc::now()).await?;
            txn.commit().await?;
            Ok(pb::RegisterDeviceResponse {
                last_applied_seq: device.last_applied_seq,
                max_push_bytes: push::advertised_limit(app),
            })
        })
        .await
    }

    async fn push(&self, request: Request<pb::PushRequest>) -> Result<Response<pb::PushResponse>, Status> {
        handle(async {
            // A revoked phone hands in what it carries: each op is refused DEVICE_REVOKED and
            // its records are kept flagged.
            let (app, caller) = self.shared.enter_handing_in(&request).await?;
            caller.require_device(&request.get_ref().device_id)?;
            let (app, request) = (app.clone(), request.into_inner());
            // Detached from the request: a phone that drops the connection mid-push must not
            // leave a write transaction half-done; the work commits and the retry replays it.
            tokio::spawn(async move { push::push(&app, &caller, &request).await })
                .await
                .map_err(|e| Error::Internal(format!("push task: {e}")))?
        })
        .await
    }

    async fn pull(&self, request: Request<pb::PullRequest>) -> Result<Response<pb::PullResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_device(&request.get_ref().device_id)?;
            pull::pull(app, &caller, request.get_ref()).await
        })
        .await
    }

    async fn upload_attachment(
        &self,
        request: Request<Streaming<pb::AttachmentChunk>>,
    ) -> Result<Response<pb::AttachmentStatus>, Status> {
        // A revoked phone still hands in the photos and signatures its records refer to.
        let (app, caller) = match self.shared.enter_handing_in(&request).await {
            Ok(entered) => entered,
            Err(e) => return handle(async { Err(e) }).await,
        };
        let app = app.clone();
        let mut stream = request.into_inner();
        handle(async move {
            let first = stream.next().await.ok_or_else(|| Error::invalid("sha256", "the upload sent no chunk"))?;
            let first = first.map_err(|e| Error::invalid("chunk", e.message().to_owned()))?;
            let upload = attachments::Upload::start(&first)?;
            let mut status = append(&app, &caller, &upload, first).await?;
            // Each chunk is committed as it arrives; a cut stream keeps what arrived.
            while let Some(chunk) = stream.next().await {
                let Ok(chunk) = chunk else { break };
                status = append(&app, &caller, &upload, chunk).await?;
            }
            Ok(status)
        })
        .await
    }

    async fn get_attachment_status(
        &self,
        request: Request<pb::GetAttachmentStatusRequest>,
    ) -> Result<Response<pb::AttachmentStatus>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter_handing_in(&request).await?;
            attachments::status(&app.db, &caller, &request.get_ref().sha256).await
        })
        .await
    }
}

/// Stores a chunk detached from the request, so a cut connection cannot abandon its transaction.
async fn append(
    app: &std::sync::Arc<crate::app::App>,
    caller: &crate::caller::Caller,
    upload: &attachments::Upload,
    chunk: pb::AttachmentChunk,
) -> Result<pb::AttachmentStatus> {
    let (app, caller, upload) = (app.clone(), caller.clone(), upload.clone());
    tokio::spawn(async move { attachments::append(&app.db, &caller, &upload, &chunk).await })
        .await
        .map_err(|e| Error::Internal(format!("upload task: {e}")))?
}
