//! Verifying a customer's sign-off: the device's registered key must have signed the report
//! hash and image hash, and the report must be what the server holds under the record ids it
//! lists (`onsite_proto::signoff`).

use onsite_proto::signoff::{self, ReportContent};
use onsite_proto::v1 as pb;
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::store::entities::{device, sign_off};
use crate::views;

/// Verifies `record` for the slip shown by `view` and marks it verified.
pub(super) async fn verify(
    db: &impl ConnectionTrait,
    caller: &Caller,
    view: &pb::Slip,
    record: &mut sign_off::Model,
) -> Result<()> {
    let device = device::Entity::find_by_id(record.device_id.clone()).one(db).await?;
    let Some(device) = device.filter(|d| d.user_id == caller.user_id.to_string()) else {
        return Err(Error::precondition("DEVICE_NOT_REGISTERED", "the sign-off's device is not registered to you"));
    };
    let content = record.report_content.as_deref().unwrap_or_default();
    signoff::verify(
        &device.public_key,
        content,
        &record.report_content_sha256,
        &record.signature_png_sha256,
        &record.device_signature,
    )
    .map_err(|e| Error::precondition("SIGNATURE_INVALID", e.to_string()))?;
    let signed = ReportContent::parse(content).map_err(|e| Error::precondition("SIGNATURE_INVALID", e.to_string()))?;
    let held = ReportContent::build(&ReportContent::restrict(view, &signed), &views::sign_off(record));
    if held.to_bytes() != content {
        return Err(Error::precondition(
            "SIGN_OFF_CONTENT_MISMATCH",
            "the signed report differs from the visit's records on the server",
        ));
    }
    record.verified = true;
    Ok(())
}
