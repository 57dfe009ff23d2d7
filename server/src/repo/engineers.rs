//! Engineers: the basic record (employee number, tier, skills, home base, shift, status).

use onsite_core::calendar::BusinessCalendar;
use onsite_core::error::Violations;
use onsite_core::geo::GeoPoint;
use onsite_core::id::EngineerId;
use onsite_core::ticket::Tier;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr};

use crate::error::{Error, Result};
use crate::store::entities::engineer;

/// Engineer statuses, as stored.
pub const STATUSES: [&str; 3] = ["available", "busy", "off"];

/// What a new engineer says.
#[derive(Debug)]
pub struct NewEngineer {
    pub employee_number: String,
    pub name: String,
    pub phone: String,
    pub tier: Option<Tier>,
    pub skills: Vec<String>,
    pub home_base: Result<GeoPoint, onsite_core::FieldViolation>,
    pub status: &'static str,
    pub shift: String,
    pub days_off: Vec<chrono::NaiveDate>,
}

/// Validates and builds the row.
pub fn validate(new: NewEngineer, calendar: &BusinessCalendar, now_us: i64) -> Result<engineer::Model> {
    let mut v = Violations::new();
    v.required_text("engineer.employee_number", &new.employee_number, 50);
    v.required_text("engineer.name", &new.name, onsite_core::ticket::MAX_SHORT);
    v.optional_text("engineer.phone", &new.phone, 50);
    if new.skills.len() > 50 || new.skills.iter().any(|s| s.contains('|') || s.trim().is_empty() || s.len() > 100) {
        v.push("engineer.skills", "at most 50 non-empty skills of at most 100 characters, without '|'");
    }
    if !new.shift.trim().is_empty() {
        let tz = calendar.time_zone().name().to_owned();
        if let Err(e) = BusinessCalendar::new(&tz, &new.shift, []) {
            v.push("engineer.shift", e.description);
        }
    }
    let home = v.take(new.home_base.map_err(|e| e.nested("engineer")));
    v.check()?;
    let home = home.ok_or_else(|| Error::invalid("engineer.home_base", "is required"))?;
    let skills: Vec<String> = new.skills.iter().map(|s| s.trim().to_lowercase()).collect();
    Ok(engineer::Model {
        id: EngineerId::new().to_string(),
        employee_number: new.employee_number.trim().to_owned(),
        name: new.name.trim().to_owned(),
        phone: new.phone,
        tier: i32::from(new.tier.unwrap_or(Tier::Field).level()),
        skills: encode_skills(&skills),
        home_latitude: home.latitude(),
        home_longitude: home.longitude(),
        status: new.status.to_owned(),
        shift: new.shift.trim().to_owned(),
        days_off: new.days_off.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        last_latitude: None,
        last_longitude: None,
        last_position_at_us: None,
        created_at_us: now_us,
        version: 1,
    })
}

/// Stores a new engineer; a taken employee number is ALREADY_EXISTS.
pub async fn insert(db: &impl ConnectionTrait, model: &engineer::Model) -> Result<()> {
    match engineer::Entity::insert(engineer::ActiveModel::from(model.clone())).exec(db).await {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Err(Error::AlreadyExists {
            reason: "EMPLOYEE_NUMBER_TAKEN",
            message: format!("employee number {} is taken", model.employee_number),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Loads an engineer.
pub async fn load(db: &impl ConnectionTrait, id: &str, field: &str) -> Result<engineer::Model> {
    let id: EngineerId = onsite_proto::convert::id(id, field)?;
    engineer::Entity::find_by_id(id.to_string()).one(db).await?.ok_or_else(|| Error::not_found("engineer", id))
}

/// One page of engineers by employee number.
pub async fn list(
    db: &impl ConnectionTrait,
    skill: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<engineer::Model>> {
    let mut query = engineer::Entity::find();
    if let Some(skill) = skill {
        query = query.filter(engineer::Column::Skills.contains(format!("|{}|", skill.trim().to_lowercase())));
    }
    if let Some(after) = after {
        query = query.filter(engineer::Column::EmployeeNumber.gt(after));
    }
    Ok(query.order_by_asc(engineer::Column::EmployeeNumber).limit(limit).all(db).await?)
}

/// Skills as stored: `|a|b|`, so a LIKE on `|skill|` matches whole skills only.
pub fn encode_skills(skills: &[String]) -> String {
    if skills.is_empty() { String::new() } else { format!("|{}|", skills.join("|")) }
}

/// Skills from storage.
pub fn decode_skills(text: &str) -> Vec<String> {
    text.split('|').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}
