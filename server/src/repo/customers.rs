//! The customer archive: organisation, contacts, sites with positions, installed products.

use chrono::NaiveDate;
use onsite_core::error::Violations;
use onsite_core::geo::GeoPoint;
use onsite_core::id::{ContactId, CustomerId, EngineerId, ProductId, SiteId};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::error::{Error, Result};
use crate::store::entities::{contact, customer, product, site, slip, ticket};

/// A validated new customer with everything it owns.
#[derive(Debug)]
pub struct NewCustomer {
    pub customer: customer::Model,
    pub contacts: Vec<contact::Model>,
    pub sites: Vec<site::Model>,
    pub products: Vec<product::Model>,
}

/// The archive fields of a customer, as text columns.
#[derive(Debug, Default)]
pub struct Archive {
    pub name: String,
    pub project_name: String,
    pub project_manager: String,
    pub implementation_staff: String,
    pub contract_signed_on: Option<NaiveDate>,
    pub implementation_started_on: Option<NaiveDate>,
    pub accepted_on: Option<NaiveDate>,
    pub service_started_on: Option<NaiveDate>,
    pub warranty_start: Option<NaiveDate>,
    pub warranty_end: Option<NaiveDate>,
    pub notes: String,
}

/// One contact, site or product of a create request.
#[derive(Debug)]
pub struct NewContact {
    pub name: String,
    pub role: String,
    pub phone: String,
    pub email: String,
}

/// A site of a create request.
#[derive(Debug)]
pub struct NewSite {
    pub name: String,
    pub address: String,
    pub position: Result<GeoPoint, onsite_core::FieldViolation>,
}

/// A product of a create request; `site` indexes the request's sites.
#[derive(Debug)]
pub struct NewProduct {
    pub site: Option<String>,
    pub model: String,
    pub serial_number: String,
    pub installed_on: Option<NaiveDate>,
    pub warranty_end: Option<NaiveDate>,
}

const SHORT: usize = onsite_core::ticket::MAX_SHORT;

/// Validates a customer and assigns ids; `now_us` is the creation time.
pub fn validate(
    archive: Archive,
    contacts: Vec<NewContact>,
    sites: Vec<NewSite>,
    products: Vec<NewProduct>,
    now_us: i64,
) -> Result<NewCustomer> {
    let mut v = Violations::new();
    v.required_text("customer.name", &archive.name, SHORT);
    for (field, value) in [
        ("customer.project_name", &archive.project_name),
        ("customer.project_manager", &archive.project_manager),
        ("customer.implementation_staff", &archive.implementation_staff),
    ] {
        v.optional_text(field, value, SHORT);
    }
    v.optional_text("customer.notes", &archive.notes, onsite_core::ticket::MAX_TEXT);
    if let (Some(start), Some(end)) = (archive.warranty_start, archive.warranty_end)
        && end < start
    {
        v.push("customer.warranty_end", "must not be before warranty_start");
    }
    if contacts.len() > 100 || sites.len() > 1000 || products.len() > 10_000 {
        v.push("customer", "too many contacts, sites or products in one request");
    }
    let id = CustomerId::new().to_string();
    let contacts = contacts
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            v.required_text(&format!("customer.contacts[{i}].name"), &c.name, SHORT);
            v.optional_text(&format!("customer.contacts[{i}].email"), &c.email, SHORT);
            v.optional_text(&format!("customer.contacts[{i}].phone"), &c.phone, 50);
            contact::Model {
                id: ContactId::new().to_string(),
                customer_id: id.clone(),
                ordinal: i as i32,
                name: c.name,
                role: c.role,
                phone: c.phone,
                email: c.email,
            }
        })
        .collect();
    let site_models: Vec<site::Model> = sites
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| {
            v.required_text(&format!("customer.sites[{i}].name"), &s.name, SHORT);
            v.required_text(&format!("customer.sites[{i}].address"), &s.address, 500);
            let position = v.take(s.position.map_err(|e| e.nested(&format!("customer.sites[{i}]"))))?;
            Some(site::Model {
                id: SiteId::new().to_string(),
                customer_id: id.clone(),
                ordinal: i as i32,
                name: s.name,
                address: s.address,
                latitude: position.latitude(),
                longitude: position.longitude(),
            })
        })
        .collect();
    let products = products
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            v.required_text(&format!("customer.products[{i}].model"), &p.model, SHORT);
            v.required_text(&format!("customer.products[{i}].serial_number"), &p.serial_number, SHORT);
            let site_id = p.site.as_deref().filter(|s| !s.is_empty()).and_then(|s| {
                let found = s.parse::<usize>().ok().and_then(|n| site_models.get(n)).map(|m| m.id.clone());
                if found.is_none() {
                    v.push(format!("customer.products[{i}].site_id"), "must be the index of a site in this request");
                }
                found
            });
            product::Model {
                id: ProductId::new().to_string(),
                customer_id: id.clone(),
                site_id,
                model: p.model,
                serial_number: p.serial_number,
                installed_on: p.installed_on.map(|d| d.to_string()),
                warranty_end: p.warranty_end.map(|d| d.to_string()),
            }
        })
        .collect();
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string());
    let customer = customer::Model {
        id,
        name: archive.name.trim().to_owned(),
        project_name: archive.project_name,
        project_manager: archive.project_manager,
        implementation_staff: archive.implementation_staff,
        contract_signed_on: date(archive.contract_signed_on),
        implementation_started_on: date(archive.implementation_started_on),
        accepted_on: date(archive.accepted_on),
        service_started_on: date(archive.service_started_on),
        warranty_start: date(archive.warranty_start),
        warranty_end: date(archive.warranty_end),
        notes: archive.notes,
        created_at_us: now_us,
        version: 1,
    };
    v.check()?;
    Ok(NewCustomer { customer, contacts, sites: site_models, products })
}

/// Stores a validated customer.
pub async fn insert(db: &impl ConnectionTrait, new: &NewCustomer) -> Result<()> {
    customer::Entity::insert(customer::ActiveModel::from(new.customer.clone())).exec(db).await?;
    if !new.contacts.is_empty() {
        contact::Entity::insert_many(new.contacts.iter().cloned().map(contact::ActiveModel::from)).exec(db).await?;
    }
    if !new.sites.is_empty() {
        site::Entity::insert_many(new.sites.iter().cloned().map(site::ActiveModel::from)).exec(db).await?;
    }
    for chunk in new.products.chunks(500) {
        product::Entity::insert_many(chunk.iter().cloned().map(product::ActiveModel::from)).exec(db).await?;
    }
    Ok(())
}

/// A customer with everything it owns.
pub async fn load(db: &impl ConnectionTrait, id: &str) -> Result<NewCustomer> {
    let id: CustomerId = onsite_proto::convert::id(id, "id")?;
    let customer =
        customer::Entity::find_by_id(id.to_string()).one(db).await?.ok_or_else(|| Error::not_found("customer", id))?;
    Ok(NewCustomer {
        contacts: contact::Entity::find()
            .filter(contact::Column::CustomerId.eq(customer.id.as_str()))
            .order_by_asc(contact::Column::Ordinal)
            .all(db)
            .await?,
        sites: site::Entity::find()
            .filter(site::Column::CustomerId.eq(customer.id.as_str()))
            .order_by_asc(site::Column::Ordinal)
            .all(db)
            .await?,
        products: product::Entity::find()
            .filter(product::Column::CustomerId.eq(customer.id.as_str()))
            .order_by_asc(product::Column::SerialNumber)
            .all(db)
            .await?,
        customer,
    })
}

/// The names of the customers `ids`, by id.
pub async fn names(db: &impl ConnectionTrait, ids: &[String]) -> Result<std::collections::HashMap<String, String>> {
    let found =
        customer::Entity::find().filter(customer::Column::Id.is_in(ids.iter().map(String::as_str))).all(db).await?;
    Ok(found.into_iter().map(|c| (c.id, c.name)).collect())
}

/// A site, if it exists.
pub async fn site(db: &impl ConnectionTrait, id: &str) -> Result<Option<site::Model>> {
    Ok(site::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// One page of customers by name. `after` is `name\u{1f}id` of the last one.
pub async fn list(db: &impl ConnectionTrait, after: Option<&str>, limit: u64) -> Result<Vec<customer::Model>> {
    use customer::Column as C;
    let mut query = customer::Entity::find();
    if let Some((name, id)) = after.and_then(|a| a.split_once('\u{1f}')) {
        query = query.filter(
            Condition::any().add(C::Name.gt(name)).add(Condition::all().add(C::Name.eq(name)).add(C::Id.gt(id))),
        );
    }
    Ok(query.order_by_asc(C::Name).order_by_asc(C::Id).limit(limit).all(db).await?)
}

/// The page key of a customer.
pub fn page_key(c: &customer::Model) -> String {
    format!("{}\u{1f}{}", c.name, c.id)
}

/// Whether `engineer` has a slip for one of the customer's tickets.
pub async fn serves(db: &impl ConnectionTrait, customer_id: &str, engineer: EngineerId) -> Result<bool> {
    use sea_orm::{JoinType, PaginatorTrait, RelationDef};
    let slip_ticket: RelationDef =
        slip::Entity::belongs_to(ticket::Entity).from(slip::Column::TicketId).to(ticket::Column::Id).into();
    let count = slip::Entity::find()
        .join(JoinType::InnerJoin, slip_ticket)
        .filter(slip::Column::EngineerId.eq(engineer.to_string()))
        .filter(ticket::Column::CustomerId.eq(customer_id))
        .count(db)
        .await?;
    Ok(count > 0)
}
