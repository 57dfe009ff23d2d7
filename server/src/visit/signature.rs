//! Verifying a customer's sign-off: the device's registered key must have signed the report
//! hash and image hash, and the report must be what the server holds under the record ids it
//! lists (`onsite_proto::signoff`).

use onsite_proto::signoff::{self, QuoteContent, ReportContent};
use onsite_proto::v1 as pb;
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::repo::quotes::SignedDecision;
use crate::store::entities::{device, sign_off};
use crate::views;

/// Verifies `record` for the slip shown by `view` and marks it verified.
pub(super) async fn verify(
    db: &impl ConnectionTrait,
    caller: &Caller,
    view: &pb::Slip,
    record: &mut sign_off::Model,
) -> Result<()> {
    let device = registered(db, caller, &record.device_id, "sign-off").await?;
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

/// Verifies a quote decision signed on the phone against the quote the slip shown by `view`
/// holds, and marks it verified: a decision whose content was altered after signing is refused.
pub(super) async fn verify_quote(
    db: &impl ConnectionTrait,
    caller: &Caller,
    view: &pb::Slip,
    decision: &mut SignedDecision,
) -> Result<()> {
    let device = registered(db, caller, &decision.device_id, "decision").await?;
    signoff::verify_quote(
        &device.public_key,
        &decision.content,
        &decision.content_sha256,
        &decision.signature_png_sha256,
        &decision.device_signature,
    )
    .map_err(|e| Error::precondition("SIGNATURE_INVALID", e.to_string()))?;
    let wire = pb::QuoteDecisionOp {
        quote_id: decision.quote_id.clone(),
        accepted: decision.accepted,
        signer_name: decision.signer_name.clone(),
        signature_png_sha256: decision.signature_png_sha256.clone(),
        signed_at: signed_at(&decision.content),
        ..Default::default()
    };
    let held = QuoteContent::build(view, &wire).map(|c| c.to_bytes());
    if held.as_deref() != Some(decision.content.as_slice()) {
        return Err(Error::precondition(
            "QUOTE_CONTENT_MISMATCH",
            "the signed quote differs from the quote on the server",
        ));
    }
    decision.verified = true;
    Ok(())
}

/// The signing time the content carries, as the device saw it.
fn signed_at(content: &[u8]) -> Option<prost_types::Timestamp> {
    let parsed: QuoteContent = serde_json::from_slice(content).ok()?;
    let ms = parsed.signed_at_unix_ms;
    Some(prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).ok()?,
    })
}

/// The device `device_id`, registered to the caller.
async fn registered(db: &impl ConnectionTrait, caller: &Caller, device_id: &str, what: &str) -> Result<device::Model> {
    let device = device::Entity::find_by_id(device_id.to_owned()).one(db).await?;
    device.filter(|d| d.user_id == caller.user_id.to_string()).ok_or_else(|| {
        Error::precondition("DEVICE_NOT_REGISTERED", format!("the {what}'s device is not registered to you"))
    })
}
