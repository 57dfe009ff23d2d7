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
use crate::repo::customers::{self as repo, Archive, NewContact, NewCustomer, NewProduct, NewSite};
use crate::store::to_us;
use crate::{idempotency, views};

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
}
