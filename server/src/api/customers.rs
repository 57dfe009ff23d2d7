//! `CustomerService`.

use chrono::Utc;
use onsite_core::error::Violations;
use onsite_core::slip::Role;
use onsite_proto::convert;
use onsite_proto::v1::{self as pb, customer_service_server::CustomerService};
use tonic::{Request, Response, Status};

use super::{handle, required};
use crate::app::Shared;
use crate::error::{Error, Result};
use crate::pagination::Page;
use crate::repo::customer_updates::{self, ArchiveField, ContactChange, ProductChange, SiteChange, Update};
use crate::repo::customers::{self as repo, Archive, NewContact, NewCustomer, NewProduct, NewSite};
use crate::store::to_us;
use crate::{idempotency, lifecycle, views};

/// The customer service.
#[derive(Clone, Debug)]
pub struct Customers {
    pub shared: Shared,
}

fn view(c: &NewCustomer) -> pb::Customer {
    views::customer(&c.customer, &c.contacts, &c.sites, &c.products)
}

/// Validates a wire customer into rows.
pub fn new_customer(c: &pb::Customer, now_us: i64) -> Result<NewCustomer> {
    let mut v = Violations::new();
    let mut date = |d: Option<&pb::Date>, field: &str| v.take(convert::date(d, field)).flatten();
    let archive = Archive {
        name: c.name.clone(),
        project_name: c.project_name.clone(),
        project_manager: c.project_manager.clone(),
        implementation_staff: c.implementation_staff.clone(),
        contract_signed_on: date(c.contract_signed_on.as_ref(), "customer.contract_signed_on"),
        implementation_started_on: date(c.implementation_started_on.as_ref(), "customer.implementation_started_on"),
        accepted_on: date(c.accepted_on.as_ref(), "customer.accepted_on"),
        service_started_on: date(c.service_started_on.as_ref(), "customer.service_started_on"),
        warranty_start: date(c.warranty_start.as_ref(), "customer.warranty_start"),
        warranty_end: date(c.warranty_end.as_ref(), "customer.warranty_end"),
        notes: c.notes.clone(),
    };
    let contacts = c
        .contacts
        .iter()
        .map(|k| NewContact {
            name: k.name.clone(),
            role: k.role.clone(),
            phone: k.phone.clone(),
            email: k.email.clone(),
        })
        .collect();
    let sites = c
        .sites
        .iter()
        .map(|s| NewSite {
            name: s.name.clone(),
            address: s.address.clone(),
            position: convert::geo_point(s.position.as_ref(), "position"),
        })
        .collect();
    let products = c
        .products
        .iter()
        .enumerate()
        .map(|(i, p)| NewProduct {
            site: Some(p.site_id.clone()),
            model: p.model.clone(),
            serial_number: p.serial_number.clone(),
            installed_on: v
                .take(convert::date(p.installed_on.as_ref(), &format!("customer.products[{i}].installed_on")))
                .flatten(),
            warranty_end: v
                .take(convert::date(p.warranty_end.as_ref(), &format!("customer.products[{i}].warranty_end")))
                .flatten(),
        })
        .collect();
    v.check()?;
    repo::validate(archive, contacts, sites, products, now_us)
}

/// The changes an update request names, validated.
fn changes(req: &pb::UpdateCustomerRequest) -> Result<Changes> {
    let c = required(req.customer.as_ref(), "customer")?;
    let paths = req.update_mask.as_ref().map(|m| m.paths.as_slice()).unwrap_or_default();
    let mut v = Violations::new();
    if paths.is_empty() {
        v.push("update_mask", "name the fields to change");
    }
    let mut date = |d: Option<&pb::Date>, path: &str| v.take(convert::date(d, &format!("customer.{path}"))).flatten();
    let mut fields = Vec::new();
    let (mut contacts, mut sites, mut products) = (None, None, None);
    let mut unknown = Vec::new();
    for path in paths {
        let field = match path.as_str() {
            "name" => ArchiveField::Name(c.name.clone()),
            "project_name" => ArchiveField::ProjectName(c.project_name.clone()),
            "project_manager" => ArchiveField::ProjectManager(c.project_manager.clone()),
            "implementation_staff" => ArchiveField::ImplementationStaff(c.implementation_staff.clone()),
            "notes" => ArchiveField::Notes(c.notes.clone()),
            "contract_signed_on" => ArchiveField::ContractSignedOn(date(c.contract_signed_on.as_ref(), path)),
            "implementation_started_on" => {
                ArchiveField::ImplementationStartedOn(date(c.implementation_started_on.as_ref(), path))
            }
            "accepted_on" => ArchiveField::AcceptedOn(date(c.accepted_on.as_ref(), path)),
            "service_started_on" => ArchiveField::ServiceStartedOn(date(c.service_started_on.as_ref(), path)),
            "warranty_start" => ArchiveField::WarrantyStart(date(c.warranty_start.as_ref(), path)),
            "warranty_end" => ArchiveField::WarrantyEnd(date(c.warranty_end.as_ref(), path)),
            "contacts" => {
                let list = c.contacts.iter().enumerate().map(|(i, k)| ContactChange {
                    id: if k.id.is_empty() {
                        None
                    } else {
                        deferred(&mut unknown, convert::id(&k.id, &format!("customer.contacts[{i}].id")))
                    },
                    name: k.name.clone(),
                    role: k.role.clone(),
                    phone: k.phone.clone(),
                    email: k.email.clone(),
                });
                contacts = Some(list.collect());
                continue;
            }
            "sites" => {
                let list = c.sites.iter().enumerate().map(|(i, s)| SiteChange {
                    id: if s.id.is_empty() {
                        None
                    } else {
                        deferred(&mut unknown, convert::id(&s.id, &format!("customer.sites[{i}].id")))
                    },
                    name: s.name.clone(),
                    address: s.address.clone(),
                    position: convert::geo_point(s.position.as_ref(), "position"),
                });
                sites = Some(list.collect());
                continue;
            }
            "products" => {
                let mut list = Vec::new();
                for (i, p) in c.products.iter().enumerate() {
                    let field = |name: &str| format!("customer.products[{i}].{name}");
                    let id =
                        if p.id.is_empty() { None } else { deferred(&mut unknown, convert::id(&p.id, &field("id"))) };
                    list.push(ProductChange {
                        id,
                        site_id: p.site_id.clone(),
                        model: p.model.clone(),
                        serial_number: p.serial_number.clone(),
                        installed_on: date(p.installed_on.as_ref(), &format!("products[{i}].installed_on")),
                        warranty_end: date(p.warranty_end.as_ref(), &format!("products[{i}].warranty_end")),
                    });
                }
                products = Some(list);
                continue;
            }
            other => {
                unknown.push(onsite_core::FieldViolation::new(
                    "update_mask.paths",
                    format!("{other:?} is not an updatable field"),
                ));
                continue;
            }
        };
        fields.push(field);
    }
    for violation in unknown {
        v.take::<()>(Err(violation));
    }
    v.check()?;
    Ok(Changes { fields, contacts, sites, products })
}

/// The changes an update request names.
struct Changes {
    fields: Vec<ArchiveField>,
    contacts: Option<Vec<ContactChange>>,
    sites: Option<Vec<SiteChange>>,
    products: Option<Vec<ProductChange>>,
}

/// A result whose violation is kept for later, so every bad field is named at once.
fn deferred<T>(
    violations: &mut Vec<onsite_core::FieldViolation>,
    result: std::result::Result<T, onsite_core::FieldViolation>,
) -> Option<T> {
    result.map_err(|e| violations.push(e)).ok()
}

#[tonic::async_trait]
impl CustomerService for Customers {
    async fn create_customer(
        &self,
        request: Request<pb::CreateCustomerRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let new = new_customer(required(req.customer.as_ref(), "customer")?, to_us(Utc::now()))?;
            idempotency::run(app, &caller, "CreateCustomer", &req.request_id, req, |txn| async {
                repo::insert(&txn, &new).await?;
                Ok((txn, view(&new)))
            })
            .await
        })
        .await
    }

    async fn get_customer(&self, request: Request<pb::GetCustomerRequest>) -> Result<Response<pb::Customer>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let customer = repo::load(&app.db, &request.get_ref().id).await?;
            if let (Role::Engineer, engineer) = (caller.role, caller.engineer_id) {
                let visible = match engineer {
                    Some(engineer) => repo::serves(&app.db, &customer.customer.id, engineer).await?,
                    None => false,
                };
                if !visible {
                    // As for no customer: engineers learn only of their slips' customers.
                    return Err(Error::not_found("customer", &customer.customer.id));
                }
            }
            Ok(view(&customer))
        })
        .await
    }

    async fn list_customers(
        &self,
        request: Request<pb::ListCustomersRequest>,
    ) -> Result<Response<pb::ListCustomersResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let page = Page::new(req.page_size, &req.page_token, "customers")?;
            let mut rows = repo::list(&app.db, page.after.as_deref(), page.fetch()).await?;
            let next_page_token = page.finish(&mut rows, repo::page_key);
            let customers = rows.iter().map(|c| views::customer(c, &[], &[], &[])).collect();
            Ok(pb::ListCustomersResponse { customers, next_page_token })
        })
        .await
    }

    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let Changes { fields, contacts, sites, products } = changes(req)?;
            let c = required(req.customer.as_ref(), "customer")?;
            let now = Utc::now();
            idempotency::run(app, &caller, "UpdateCustomer", &req.request_id, req, |txn| async {
                let update = Update { customer_id: &c.id, etag: &c.etag, fields, contacts, sites, products };
                let updated = lifecycle::update_customer(&txn, &caller, update, now).await?;
                Ok((txn, view(&updated)))
            })
            .await
        })
        .await
    }

    async fn list_customer_events(
        &self,
        request: Request<pb::ListCustomerEventsRequest>,
    ) -> Result<Response<pb::ListCustomerEventsResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let events = customer_updates::events(&app.db, &request.get_ref().id).await?;
            Ok(pb::ListCustomerEventsResponse { events: events.iter().map(views::customer_event).collect() })
        })
        .await
    }
}
