//! Gathering a service record: the slip as the caller may see it, and its ticket, customer,
//! site, engineer and signature image.

use std::sync::Arc;

use sea_orm::EntityTrait;

use super::record::{ServiceRecord, SignatureImage, present};
use crate::app::App;
use crate::caller::Caller;
use crate::error::Result;
use crate::repo::{customers, engineers, tickets};
use crate::store::entities::sign_off;

/// The record of `slip_id`, for a manager or the slip's engineer.
pub async fn gather(app: &App, caller: &Caller, slip_id: &str) -> Result<ServiceRecord> {
    let slip = crate::visit::visible_view(app, caller, slip_id).await?;
    let ticket = tickets::load(&app.db, &slip.ticket_id).await?;
    let customer = customers::load(&app.db, &ticket.customer_id).await?;
    let site = customer.sites.iter().find(|s| s.id == slip.site_id);
    let engineer = match slip.engineer_id.as_str() {
        "" => None,
        id => Some(engineers::load(&app.db, id, "engineer_id").await?),
    };
    let contact = present(&[&ticket.contact_name, &ticket.contact_phone], " ");
    Ok(ServiceRecord {
        ticket_title: ticket.title.clone(),
        symptoms: ticket.symptoms.clone(),
        customer_name: customer.customer.name.clone(),
        site_name: site.map(|s| s.name.clone()).unwrap_or_default(),
        site_address: site.map(|s| s.address.clone()).unwrap_or_default(),
        contact,
        product_model: ticket.product_model.clone(),
        serial_number: ticket.serial_number.clone(),
        engineer_name: engineer.as_ref().map(|e| e.name.clone()).unwrap_or_default(),
        engineer_number: engineer.as_ref().map(|e| e.employee_number.clone()).unwrap_or_default(),
        signature: signature(app, &slip.id).await?,
        time_zone: app.config.calendar.time_zone(),
        slip,
    })
}

/// The sign-off's image, kept with it or uploaded by the device; `None` before sign-off or
/// when the image is not readable.
async fn signature(app: &App, slip_id: &str) -> Result<Option<SignatureImage>> {
    let Some(record) = sign_off::Entity::find_by_id(slip_id.to_owned()).one(&app.db).await? else {
        return Ok(None);
    };
    let png = if record.signature_png.is_empty() {
        crate::sync::attachments::content(&app.db, &record.signature_png_sha256).await?.unwrap_or_default()
    } else {
        record.signature_png
    };
    if onsite_core::image::signature(&png, "signature_png").is_err() {
        return Ok(None);
    }
    Ok(onsite_core::image::png_size(&png).map(|(width, height)| SignatureImage { png: Arc::new(png), width, height }))
}
