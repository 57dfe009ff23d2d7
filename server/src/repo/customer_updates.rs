//! Changes to a customer's archive: the archive fields and the installed products, checked
//! against the etag and written into the customer's append-only audit trail. Open slips whose
//! warranty facts depend on a change follow it; the caller tells the board (`lifecycle`).

use chrono::{DateTime, NaiveDate, Utc};
use onsite_core::error::Violations;
use onsite_core::geo::GeoPoint;
use onsite_core::id::{ContactId, ProductId, SiteId};
use onsite_core::slip::SlipState;
use sea_orm::sea_query::Query;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{check_etag, customers, slips, tickets};
use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::store::entities::{contact, customer, customer_event, product, site, slip, ticket};
use crate::store::to_us;

const SHORT: usize = onsite_core::ticket::MAX_SHORT;

/// One field of the archive with its new value, as the update mask names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveField {
    Name(String),
    ProjectName(String),
    ProjectManager(String),
    ImplementationStaff(String),
    ContractSignedOn(Option<NaiveDate>),
    ImplementationStartedOn(Option<NaiveDate>),
    AcceptedOn(Option<NaiveDate>),
    ServiceStartedOn(Option<NaiveDate>),
    WarrantyStart(Option<NaiveDate>),
    WarrantyEnd(Option<NaiveDate>),
    Notes(String),
}

/// An installed product as the update names it: with an id, changed; without, added.
#[derive(Clone, Debug)]
pub struct ProductChange {
    pub id: Option<ProductId>,
    /// For a new product: one of the customer's sites.
    pub site_id: String,
    pub model: String,
    pub serial_number: String,
    pub installed_on: Option<NaiveDate>,
    pub warranty_end: Option<NaiveDate>,
}

/// A contact as the update names it: with an id, changed; without, added.
#[derive(Clone, Debug)]
pub struct ContactChange {
    pub id: Option<ContactId>,
    pub name: String,
    pub role: String,
    pub phone: String,
    pub email: String,
}

/// A site as the update names it: with an id, changed (name, address, position); without,
/// added.
#[derive(Clone, Debug)]
pub struct SiteChange {
    pub id: Option<SiteId>,
    pub name: String,
    pub address: String,
    pub position: std::result::Result<GeoPoint, onsite_core::FieldViolation>,
}

/// What an update changes; a list is `None` when the mask does not name it.
#[derive(Debug)]
pub struct Update<'a> {
    pub customer_id: &'a str,
    pub etag: &'a str,
    pub fields: Vec<ArchiveField>,
    pub contacts: Option<Vec<ContactChange>>,
    pub sites: Option<Vec<SiteChange>>,
    pub products: Option<Vec<ProductChange>>,
}

/// The customer after the update, and its open slips (those whose warranty end touched, one
/// version on): the phones holding them hear of the customer through them.
#[derive(Debug)]
pub struct Updated {
    pub customer: customers::NewCustomer,
    pub slips: Vec<slip::Model>,
}

/// Applies `u` to the customer, once its etag matches: the archive row moves one version on,
/// every change is audited, and open slips follow a new warranty end.
pub async fn update(db: &impl ConnectionTrait, caller: &Caller, u: Update<'_>, now: DateTime<Utc>) -> Result<Updated> {
    let current = customers::load(db, u.customer_id).await?;
    check_etag(u.etag, current.customer.version, "customer")?;
    let mut row = current.customer.clone();
    let mut changed = Vec::new();
    for field in &u.fields {
        apply(&mut row, field, &mut changed);
    }
    check_archive(&row)?;
    let mut events = Vec::new();
    if !changed.is_empty() {
        events.push(("update", changed.join("; ")));
    }
    if let Some(contacts) = &u.contacts {
        events.extend(change_contacts(db, &current, contacts).await?);
    }
    if let Some(sites) = &u.sites {
        events.extend(change_sites(db, &current, sites).await?);
    }
    let current = if u.sites.is_some() { customers::load(db, u.customer_id).await? } else { current };
    if let Some(products) = &u.products {
        events.extend(change_products(db, &current, products).await?);
    }
    if events.is_empty() {
        return Err(Error::invalid("update_mask", "changes nothing"));
    }
    row.version = current.customer.version + 1;
    // Every column set, but the key.
    let mut columns = customer::ActiveModel::from(row.clone()).reset_all();
    columns.not_set(customer::Column::Id);
    let saved = customer::Entity::update_many()
        .set(columns)
        .filter(customer::Column::Id.eq(row.id.as_str()))
        .filter(customer::Column::Version.eq(current.customer.version))
        .exec(db)
        .await?;
    if saved.rows_affected == 0 {
        return Err(Error::StaleEtag { resource: "customer" });
    }
    for (action, detail) in events {
        let event = customer_event::Model {
            id: uuid::Uuid::now_v7().to_string(),
            customer_id: row.id.clone(),
            action: action.to_owned(),
            detail,
            actor_user_id: caller.user_id.to_string(),
            at_us: to_us(now),
        };
        customer_event::Entity::insert(customer_event::ActiveModel::from(event)).exec(db).await?;
    }
    let slips = follow_warranty(db, &row.id, now).await?;
    Ok(Updated { customer: customers::load(db, &row.id).await?, slips })
}

/// The customer's audit trail, oldest first.
pub async fn events(db: &impl ConnectionTrait, customer_id: &str) -> Result<Vec<customer_event::Model>> {
    let customer = customers::load(db, customer_id).await?;
    Ok(customer_event::Entity::find()
        .filter(customer_event::Column::CustomerId.eq(customer.customer.id.as_str()))
        .order_by_asc(customer_event::Column::Id)
        .all(db)
        .await?)
}

/// Sets one field, noting `name: old -> new` when it changes.
fn apply(row: &mut customer::Model, field: &ArchiveField, changed: &mut Vec<String>) {
    let date = |d: &Option<NaiveDate>| d.map(|d| d.to_string());
    let (name, slot, value): (&str, &mut Option<String>, Option<String>) = match field {
        ArchiveField::ContractSignedOn(d) => ("contract_signed_on", &mut row.contract_signed_on, date(d)),
        ArchiveField::ImplementationStartedOn(d) => {
            ("implementation_started_on", &mut row.implementation_started_on, date(d))
        }
        ArchiveField::AcceptedOn(d) => ("accepted_on", &mut row.accepted_on, date(d)),
        ArchiveField::ServiceStartedOn(d) => ("service_started_on", &mut row.service_started_on, date(d)),
        ArchiveField::WarrantyStart(d) => ("warranty_start", &mut row.warranty_start, date(d)),
        ArchiveField::WarrantyEnd(d) => ("warranty_end", &mut row.warranty_end, date(d)),
        ArchiveField::Name(t)
        | ArchiveField::ProjectName(t)
        | ArchiveField::ProjectManager(t)
        | ArchiveField::ImplementationStaff(t)
        | ArchiveField::Notes(t) => {
            let (name, slot) = match field {
                ArchiveField::Name(_) => ("name", &mut row.name),
                ArchiveField::ProjectName(_) => ("project_name", &mut row.project_name),
                ArchiveField::ProjectManager(_) => ("project_manager", &mut row.project_manager),
                ArchiveField::ImplementationStaff(_) => ("implementation_staff", &mut row.implementation_staff),
                _ => ("notes", &mut row.notes),
            };
            let value = t.trim().to_owned();
            if *slot != value {
                changed.push(format!("{name}: {slot:?} -> {value:?}"));
                *slot = value;
            }
            return;
        }
    };
    if *slot != value {
        changed.push(format!("{name}: {} -> {}", slot.as_deref().unwrap_or("-"), value.as_deref().unwrap_or("-")));
        *slot = value;
    }
}

/// The archive's own rules, as at creation.
fn check_archive(row: &customer::Model) -> Result<()> {
    let mut v = Violations::new();
    v.required_text("customer.name", &row.name, SHORT);
    for (field, value) in [
        ("customer.project_name", &row.project_name),
        ("customer.project_manager", &row.project_manager),
        ("customer.implementation_staff", &row.implementation_staff),
    ] {
        v.optional_text(field, value, SHORT);
    }
    v.optional_text("customer.notes", &row.notes, onsite_core::ticket::MAX_TEXT);
    if let (Some(start), Some(end)) = (&row.warranty_start, &row.warranty_end)
        && end < start
    {
        v.push("customer.warranty_end", "must not be before warranty_start");
    }
    Ok(v.check()?)
}

/// Updates and adds contacts; returns their audit events.
async fn change_contacts(
    db: &impl ConnectionTrait,
    current: &customers::NewCustomer,
    changes: &[ContactChange],
) -> Result<Vec<(&'static str, String)>> {
    let mut v = Violations::new();
    for (i, c) in changes.iter().enumerate() {
        v.required_text(&format!("customer.contacts[{i}].name"), &c.name, SHORT);
        v.optional_text(&format!("customer.contacts[{i}].email"), &c.email, SHORT);
        v.optional_text(&format!("customer.contacts[{i}].phone"), &c.phone, 50);
        if c.id.is_some_and(|id| !current.contacts.iter().any(|k| k.id == id.to_string())) {
            v.push(format!("customer.contacts[{i}].id"), "is not a contact of this customer");
        }
    }
    v.check()?;
    let mut events = Vec::new();
    let mut next = i32::try_from(current.contacts.len()).unwrap_or(i32::MAX);
    for c in changes {
        let row = contact::Model {
            id: c.id.map_or_else(|| ContactId::new().to_string(), |id| id.to_string()),
            customer_id: current.customer.id.clone(),
            ordinal: next,
            name: c.name.trim().to_owned(),
            role: c.role.trim().to_owned(),
            phone: c.phone.trim().to_owned(),
            email: c.email.trim().to_owned(),
        };
        let detail = format!("{} ({}), {}, {}", row.name, row.role, row.phone, row.email);
        if let Some(old) = current.contacts.iter().find(|k| k.id == row.id) {
            let changes = contact::ActiveModel {
                name: Set(row.name.clone()),
                role: Set(row.role.clone()),
                phone: Set(row.phone.clone()),
                email: Set(row.email.clone()),
                ..Default::default()
            };
            contact::Entity::update_many()
                .set(changes)
                .filter(contact::Column::Id.eq(row.id.as_str()))
                .exec(db)
                .await?;
            events.push(("update_contact", format!("{} -> {detail}", old.name)));
        } else {
            contact::Entity::insert(contact::ActiveModel::from(row)).exec(db).await?;
            next = next.saturating_add(1);
            events.push(("add_contact", detail));
        }
    }
    Ok(events)
}

/// Updates and adds sites; returns their audit events. A moved site moves its open slips on
/// the board with the slips' board events (see [`update`]).
async fn change_sites(
    db: &impl ConnectionTrait,
    current: &customers::NewCustomer,
    changes: &[SiteChange],
) -> Result<Vec<(&'static str, String)>> {
    let mut v = Violations::new();
    let mut positions = Vec::new();
    for (i, s) in changes.iter().enumerate() {
        v.required_text(&format!("customer.sites[{i}].name"), &s.name, SHORT);
        v.required_text(&format!("customer.sites[{i}].address"), &s.address, 500);
        positions.push(v.take(s.position.clone().map_err(|e| e.nested(&format!("customer.sites[{i}]")))));
        if s.id.is_some_and(|id| !current.sites.iter().any(|k| k.id == id.to_string())) {
            v.push(format!("customer.sites[{i}].id"), "is not a site of this customer");
        }
    }
    v.check()?;
    let mut events = Vec::new();
    let mut next = i32::try_from(current.sites.len()).unwrap_or(i32::MAX);
    for (s, position) in changes.iter().zip(positions) {
        let Some(position) = position else { continue };
        let row = site::Model {
            id: s.id.map_or_else(|| SiteId::new().to_string(), |id| id.to_string()),
            customer_id: current.customer.id.clone(),
            ordinal: next,
            name: s.name.trim().to_owned(),
            address: s.address.trim().to_owned(),
            latitude: position.latitude(),
            longitude: position.longitude(),
        };
        let detail = format!("{}, {} ({:.5}, {:.5})", row.name, row.address, row.latitude, row.longitude);
        if let Some(old) = current.sites.iter().find(|k| k.id == row.id) {
            let changes = site::ActiveModel {
                name: Set(row.name.clone()),
                address: Set(row.address.clone()),
                latitude: Set(row.latitude),
                longitude: Set(row.longitude),
                ..Default::default()
            };
            site::Entity::update_many().set(changes).filter(site::Column::Id.eq(row.id.as_str())).exec(db).await?;
            events.push(("update_site", format!("{}, {} -> {detail}", old.name, old.address)));
        } else {
            site::Entity::insert(site::ActiveModel::from(row)).exec(db).await?;
            next = next.saturating_add(1);
            events.push(("add_site", detail));
        }
    }
    Ok(events)
}

/// Updates and adds installed products; returns their audit events.
async fn change_products(
    db: &impl ConnectionTrait,
    current: &customers::NewCustomer,
    changes: &[ProductChange],
) -> Result<Vec<(&'static str, String)>> {
    let mut v = Violations::new();
    for (i, p) in changes.iter().enumerate() {
        v.required_text(&format!("customer.products[{i}].model"), &p.model, SHORT);
        v.required_text(&format!("customer.products[{i}].serial_number"), &p.serial_number, SHORT);
        match p.id {
            Some(id) if !current.products.iter().any(|c| c.id == id.to_string()) => {
                v.push(format!("customer.products[{i}].id"), "is not a product of this customer");
            }
            None if !current.sites.iter().any(|s| s.id == p.site_id) => {
                v.push(format!("customer.products[{i}].site_id"), "must be one of the customer's sites");
            }
            _ => {}
        }
    }
    v.check()?;
    let mut events = Vec::new();
    for p in changes {
        let row = product::Model {
            id: p.id.map_or_else(|| ProductId::new().to_string(), |id| id.to_string()),
            customer_id: current.customer.id.clone(),
            site_id: None,
            model: p.model.trim().to_owned(),
            serial_number: p.serial_number.trim().to_owned(),
            installed_on: p.installed_on.map(|d| d.to_string()),
            warranty_end: p.warranty_end.map(|d| d.to_string()),
        };
        let warranty = row.warranty_end.as_deref().unwrap_or("-").to_owned();
        match current.products.iter().find(|c| c.id == row.id) {
            Some(old) => {
                let changes = product::ActiveModel {
                    model: Set(row.model.clone()),
                    serial_number: Set(row.serial_number.clone()),
                    installed_on: Set(row.installed_on.clone()),
                    warranty_end: Set(row.warranty_end.clone()),
                    ..Default::default()
                };
                product::Entity::update_many()
                    .set(changes)
                    .filter(product::Column::Id.eq(row.id.as_str()))
                    .exec(db)
                    .await?;
                let was = old.warranty_end.as_deref().unwrap_or("-");
                let detail =
                    format!("{} {} ({}): warranty to {was} -> {warranty}", row.model, row.serial_number, row.id);
                events.push(("update_product", detail));
            }
            None => {
                let row = product::Model { site_id: Some(p.site_id.clone()), ..row };
                product::Entity::insert(product::ActiveModel::from(row.clone())).exec(db).await?;
                let detail = format!("{} {} ({}): warranty to {warranty}", row.model, row.serial_number, row.id);
                events.push(("add_product", detail));
            }
        }
    }
    Ok(events)
}

/// Moves the warranty end of the customer's open slips to what the archive says now; returns
/// the open slips, those that changed one version on.
async fn follow_warranty(db: &impl ConnectionTrait, customer_id: &str, now: DateTime<Utc>) -> Result<Vec<slip::Model>> {
    let of_customer = Query::select()
        .column(ticket::Column::Id)
        .from(ticket::Entity)
        .and_where(ticket::Column::CustomerId.eq(customer_id))
        .to_owned();
    let slips_of_customer =
        slip::Entity::find().filter(slip::Column::TicketId.in_subquery(of_customer)).all(db).await?;
    let open: Vec<slip::Model> =
        slips_of_customer.into_iter().filter(|s| slips::state(s).is_ok_and(SlipState::is_open)).collect();
    let mut last_days = std::collections::HashMap::new();
    let mut touched = Vec::with_capacity(open.len());
    for s in open {
        // One lookup per ticket: its slips share the product and the customer.
        if !last_days.contains_key(&s.ticket_id) {
            let ticket = tickets::load(db, &s.ticket_id).await?;
            last_days.insert(s.ticket_id.clone(), slips::warranty_end(db, &ticket).await?.map(|d| d.to_string()));
        }
        let last_day = last_days.get(&s.ticket_id).cloned().flatten();
        if s.warranty_end == last_day {
            touched.push(s);
            continue;
        }
        touched.push(
            slips::touch(db, &s, now, |row| {
                row.warranty_end = last_day;
                Ok(())
            })
            .await?,
        );
    }
    Ok(touched)
}
