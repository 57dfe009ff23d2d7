//! The parts catalog. Every upsert bumps the catalog's version under the version row's lock,
//! so devices can tell cheaply whether their copy is current.

use onsite_core::error::Violations;
use onsite_core::money::Currency;
use onsite_core::ticket::MAX_SHORT;
use onsite_proto::v1 as pb;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::{join_lines, split_lines};
use crate::error::{Error, Result};
use crate::store::entities::{catalog_version, part};
use crate::store::from_us;

/// Validates a wire part into a row.
pub fn validate(p: &pb::Part, now_us: i64) -> Result<part::Model> {
    let mut v = Violations::new();
    let number = p.part_number.trim();
    if number.is_empty() || number.len() > 100 {
        v.push("part.part_number", "is required, at most 100 characters");
    }
    v.required_text("part.description", &p.description, MAX_SHORT);
    let price = p.unit_price.as_ref();
    if price.is_none_or(|m| m.minor_units < 0) {
        v.push("part.unit_price", "is required and must not be negative");
    }
    let currency = price.and_then(|m| v.take(Currency::parse(&m.currency_code, "part.unit_price.currency_code")));
    if p.product_lines.len() > 20 || p.product_lines.iter().any(|l| l.trim().is_empty() || l.len() > 100) {
        v.push("part.product_lines", "at most 20 product lines of 1-100 characters");
    }
    v.check()?;
    let lines: Vec<String> = p.product_lines.iter().map(|l| l.trim().to_lowercase()).collect();
    Ok(part::Model {
        part_number: number.to_owned(),
        description: p.description.trim().to_owned(),
        unit_price_minor: price.map_or(0, |m| m.minor_units),
        currency: currency.map(|c| c.to_string()).unwrap_or_default(),
        product_lines: join_lines(&lines),
        active: p.active,
        updated_at_us: now_us,
    })
}

/// Creates or replaces a part and bumps the catalog version.
pub async fn upsert(db: &impl ConnectionTrait, model: part::Model) -> Result<part::Model> {
    let mut query = catalog_version::Entity::find_by_id(1);
    if db.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    let current = query.one(db).await?.ok_or_else(|| Error::Internal("the catalog version row is missing".into()))?;
    catalog_version::Entity::update(catalog_version::ActiveModel { id: Set(1), version: Set(current.version + 1) })
        .exec(db)
        .await?;
    part::Entity::delete_by_id(model.part_number.clone()).exec(db).await?;
    part::Entity::insert(part::ActiveModel::from(model.clone())).exec(db).await?;
    Ok(model)
}

/// One page of parts by part number.
pub async fn list(db: &impl ConnectionTrait, after: Option<&str>, limit: u64) -> Result<Vec<part::Model>> {
    let mut query = part::Entity::find().order_by_asc(part::Column::PartNumber).limit(limit);
    if let Some(after) = after {
        query = query.filter(part::Column::PartNumber.gt(after));
    }
    Ok(query.all(db).await?)
}

/// The catalog's version.
pub async fn version(db: &impl ConnectionTrait) -> Result<i64> {
    Ok(catalog_version::Entity::find_by_id(1).one(db).await?.map_or(0, |v| v.version))
}

/// The active parts an engineer with `skills` may need: those of their product lines and
/// those for every line.
pub async fn catalog_for(db: &impl ConnectionTrait, skills: &[String]) -> Result<pb::PartsCatalog> {
    let version = version(db).await?;
    let rows = part::Entity::find()
        .filter(part::Column::Active.eq(true))
        .order_by_asc(part::Column::PartNumber)
        .all(db)
        .await?;
    let parts = rows
        .iter()
        .filter(|p| {
            let lines = split_lines(&p.product_lines);
            lines.is_empty() || lines.iter().any(|l| skills.contains(l))
        })
        .map(view)
        .collect();
    Ok(pb::PartsCatalog { parts, version })
}

/// A part as the wire shows it.
pub fn view(p: &part::Model) -> pb::Part {
    pb::Part {
        part_number: p.part_number.clone(),
        description: p.description.clone(),
        unit_price: Some(pb::Money { minor_units: p.unit_price_minor, currency_code: p.currency.clone() }),
        product_lines: split_lines(&p.product_lines),
        active: p.active,
        update_time: Some(onsite_proto::convert::timestamp(from_us(p.updated_at_us))),
    }
}
