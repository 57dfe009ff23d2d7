//! Customer records stay current, over real gRPC on SQLite and PostgreSQL: archive fields and
//! installed products change under the etag, every change is in the audit trail, and an open
//! slip follows a new warranty end, so the phone holding it decides who pays on current data.

use onsite_proto::v1 as pb;
use onsite_tests::expect::{expect_code, violated_fields};
use onsite_tests::{Backend, Fixture, authed, request_id};
use tonic::Code;

onsite_tests::conformance!(the_archive_changes_under_its_etag_and_open_slips_follow_the_warranty);

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() })
}

async fn the_archive_changes_under_its_etag_and_open_slips_follow_the_warranty(backend: Backend) {
    let f = Fixture::new(backend).await;
    let mut customers = f.server.customers();
    let get = || pb::GetCustomerRequest { id: f.customer_id.clone() };
    let before = customers.get_customer(authed(&f.manager, get())).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    // An open visit for the customer's product, in warranty until 2027-03-01.
    let ticket = f.ticket(pb::Severity::General).await;
    let slip = f.slip(&ticket).await;
    assert_eq!(slip.warranty.as_ref().and_then(|w| w.last_day), Some(pb::Date { year: 2027, month: 3, day: 1 }));

    let update = |customer: pb::Customer, paths: &[&str]| pb::UpdateCustomerRequest {
        request_id: request_id(),
        customer: Some(customer),
        update_mask: mask(paths),
    };
    // The product's warranty was cut short: it ended last year; a second product is added.
    let mut product = before.products[0].clone();
    product.warranty_end = Some(pb::Date { year: 2025, month: 12, day: 31 });
    let added = pb::InstalledProduct {
        site_id: f.site_id.clone(),
        model: "Label printer LP-2".into(),
        serial_number: "LP2-0042".into(),
        warranty_end: Some(pb::Date { year: 2028, month: 1, day: 31 }),
        ..Default::default()
    };
    let changed = pb::Customer {
        id: before.id.clone(),
        etag: before.etag.clone(),
        notes: "Night shift contact: Mr. Sun".into(),
        products: vec![product.clone(), added],
        ..Default::default()
    };
    let after = customers
        .update_customer(authed(&f.manager, update(changed.clone(), &["notes", "products"])))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_ne!(after.etag, before.etag);
    assert_eq!(after.notes, "Night shift contact: Mr. Sun");
    assert_eq!(after.name, before.name, "fields not in the mask stay");
    assert_eq!(after.products.len(), 2);
    let cut = after.products.iter().find(|p| p.id == product.id).unwrap_or_else(|| panic!("the product"));
    assert_eq!(cut.warranty_end, Some(pb::Date { year: 2025, month: 12, day: 31 }));

    // The open slip follows, one version on.
    let now = f.server.slips().get_slip(authed(&f.manager, pb::GetSlipRequest { id: slip.id.clone() })).await;
    let now = now.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(now.warranty.as_ref().and_then(|w| w.last_day), Some(pb::Date { year: 2025, month: 12, day: 31 }));
    assert_eq!(now.warranty.as_ref().map(pb::Warranty::cover), Some(pb::Cover::WarrantyEnded));
    assert_ne!(now.etag, slip.etag);

    // The old etag is stale; bad paths and values are named; engineers may not.
    let stale = customers.update_customer(authed(&f.manager, update(changed.clone(), &["notes"]))).await;
    expect_code(stale, Code::Aborted);
    let fresh = pb::Customer { etag: after.etag.clone(), ..changed.clone() };
    let bad = customers.update_customer(authed(&f.manager, update(fresh.clone(), &["colour", "name"]))).await;
    assert_eq!(violated_fields(&expect_code(bad, Code::InvalidArgument)), ["update_mask.paths"]);
    let unnamed = pb::Customer { name: " ".into(), ..fresh.clone() };
    let unnamed = customers.update_customer(authed(&f.manager, update(unnamed, &["name"]))).await;
    assert_eq!(violated_fields(&expect_code(unnamed, Code::InvalidArgument)), ["customer.name"]);
    let backwards = pb::Customer { warranty_end: Some(pb::Date { year: 2020, month: 1, day: 1 }), ..fresh.clone() };
    let backwards = customers.update_customer(authed(&f.manager, update(backwards, &["warranty_end"]))).await;
    assert_eq!(violated_fields(&expect_code(backwards, Code::InvalidArgument)), ["customer.warranty_end"]);
    let stranger = pb::InstalledProduct { id: uuid::Uuid::now_v7().to_string(), ..product.clone() };
    let stranger = pb::Customer { products: vec![stranger], ..fresh.clone() };
    let stranger = customers.update_customer(authed(&f.manager, update(stranger, &["products"]))).await;
    assert_eq!(violated_fields(&expect_code(stranger, Code::InvalidArgument)), ["customer.products[0].id"]);
    let nothing = customers.update_customer(authed(&f.manager, update(fresh.clone(), &[]))).await;
    assert_eq!(violated_fields(&expect_code(nothing, Code::InvalidArgument)), ["update_mask"]);
    expect_code(
        customers.update_customer(authed(&f.engineer, update(fresh, &["notes"]))).await,
        Code::PermissionDenied,
    );

    // A contact's new phone, a new contact, and the site moved across the road: the open slip
    // is shown at the new position.
    let mut zhou = before.contacts[0].clone();
    zhou.phone = "+86 21 5555 0199".into();
    let sun = pb::Contact { name: "Mr. Sun".into(), role: "Night shift lead".into(), ..Default::default() };
    let mut plant = before.sites[0].clone();
    plant.position = Some(pb::GeoPoint { latitude: 31.2101, longitude: 121.6012 });
    let moved = pb::Customer {
        id: before.id.clone(),
        etag: after.etag.clone(),
        contacts: vec![zhou, sun],
        sites: vec![plant],
        ..Default::default()
    };
    let moved = customers.update_customer(authed(&f.manager, update(moved, &["contacts", "sites"]))).await;
    let moved = moved.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(moved.contacts.iter().map(|c| c.phone.as_str()).collect::<Vec<_>>(), ["+86 21 5555 0199", ""]);
    assert_eq!(moved.contacts[1].name, "Mr. Sun");
    let here = f.server.slips().get_slip(authed(&f.manager, pb::GetSlipRequest { id: slip.id.clone() })).await;
    let here = here.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(here.site_position, Some(pb::GeoPoint { latitude: 31.2101, longitude: 121.6012 }));
    let nowhere =
        pb::Site { position: Some(pb::GeoPoint { latitude: 91.0, longitude: 0.0 }), ..before.sites[0].clone() };
    let nowhere = pb::Customer { etag: moved.etag.clone(), sites: vec![nowhere], ..Default::default() };
    let nowhere = pb::Customer { id: before.id.clone(), ..nowhere };
    let nowhere = customers.update_customer(authed(&f.manager, update(nowhere, &["sites"]))).await;
    let fields = violated_fields(&expect_code(nowhere, Code::InvalidArgument));
    assert!(fields.iter().all(|f| f.starts_with("customer.sites[0].position")), "{fields:?}");

    // The audit trail says who changed what, old -> new.
    let trail = pb::ListCustomerEventsRequest { id: f.customer_id.clone() };
    let trail = customers.list_customer_events(authed(&f.manager, trail)).await.unwrap_or_else(|e| panic!("{e}"));
    let trail = trail.into_inner().events;
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["update", "update_product", "add_product", "update_contact", "add_contact", "update_site"]);
    assert!(trail[0].detail.contains("Night shift contact"), "{:?}", trail[0]);
    assert!(trail[1].detail.contains("2027-03-01 -> 2025-12-31"), "{:?}", trail[1]);
    assert!(trail.iter().all(|e| !e.actor_user_id.is_empty() && e.time.is_some()));
}
