//! Engineers: the basic record (employee number, tier, skills, home base, shift, status).

use onsite_core::calendar::BusinessCalendar;
use onsite_core::error::Violations;
use onsite_core::geo::GeoPoint;
use onsite_core::id::EngineerId;
use onsite_core::skill;
use onsite_core::slip::SlipState;
use onsite_core::ticket::Tier;
use sea_orm::sea_query::LikeExpr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    SqlErr,
};

use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::store::entities::{engineer, engineer_position, slip};

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
    skill::check(&mut v, "engineer.skills", &new.skills, skill::MAX_PER_ENGINEER);
    if !new.shift.trim().is_empty() {
        let tz = calendar.time_zone().name().to_owned();
        if let Err(e) = BusinessCalendar::new(&tz, &new.shift, []) {
            v.push("engineer.shift", e.description);
        }
    }
    let home = v.take(new.home_base.map_err(|e| e.nested("engineer")));
    v.check()?;
    let home = home.ok_or_else(|| Error::invalid("engineer.home_base", "is required"))?;
    let skills = skill::normalized(&new.skills);
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

/// Loads an engineer the caller may see: managers see everyone, an engineer only themselves.
/// To another engineer it answers as for no such engineer: whereabouts are personal.
pub async fn load_visible(db: &impl ConnectionTrait, caller: &Caller, id: &str) -> Result<engineer::Model> {
    let model = load(db, id, "id").await?;
    let own = caller.engineer_id.is_some_and(|e| e.to_string() == model.id);
    if caller.actor().is_manager() || own { Ok(model) } else { Err(Error::not_found("engineer", &model.id)) }
}

/// One page of engineers by employee number.
pub async fn list(
    db: &impl ConnectionTrait,
    skill: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<engineer::Model>> {
    let mut query = engineer::Entity::find();
    if let Some(wanted) = skill {
        // A valid skill has no '|'; LIKE's own wildcards in it are escaped.
        let escaped: String = skill::normalize(wanted)
            .chars()
            .flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] })
            .collect();
        let pattern = LikeExpr::new(format!("%|{escaped}|%")).escape('\\');
        query = query.filter(engineer::Column::Skills.like(pattern));
    }
    if let Some(after) = after {
        query = query.filter(engineer::Column::EmployeeNumber.gt(after));
    }
    Ok(query.order_by_asc(engineer::Column::EmployeeNumber).limit(limit).all(db).await?)
}

/// The engineers with these ids (unknown ids are left out).
pub async fn by_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<engineer::Model>> {
    Ok(engineer::Entity::find().filter(engineer::Column::Id.is_in(ids.iter().map(String::as_str))).all(db).await?)
}

/// Skills as stored: `|a|b|`, so a LIKE on `|skill|` matches whole skills only.
pub fn encode_skills(skills: &[String]) -> String {
    if skills.is_empty() { String::new() } else { format!("|{}|", skills.join("|")) }
}

/// Skills from storage.
pub fn decode_skills(text: &str) -> Vec<String> {
    text.split('|').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Stores a changed engineer if `current` is still the stored version.
pub async fn update(
    db: &impl ConnectionTrait,
    current: &engineer::Model,
    mut next: engineer::Model,
) -> Result<engineer::Model> {
    (next.id, next.created_at_us, next.version) = (current.id.clone(), current.created_at_us, current.version + 1);
    (next.last_latitude, next.last_longitude, next.last_position_at_us) =
        (current.last_latitude, current.last_longitude, current.last_position_at_us);
    let mut changes = engineer::ActiveModel::from(next.clone()).reset_all();
    changes.id = sea_orm::ActiveValue::NotSet;
    let result = engineer::Entity::update_many()
        .set(changes)
        .filter(engineer::Column::Id.eq(current.id.as_str()))
        .filter(engineer::Column::Version.eq(current.version))
        .exec(db)
        .await;
    match result {
        Ok(r) if r.rows_affected == 0 => Err(Error::StaleEtag { resource: "engineer" }),
        Ok(_) => Ok(next),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Err(Error::AlreadyExists {
            reason: "EMPLOYEE_NUMBER_TAKEN",
            message: format!("employee number {} is taken", next.employee_number),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Loads an engineer and, on PostgreSQL, locks the row until commit: bookings of one
/// engineer queue here, so two dispatchers cannot both take the same window.
pub async fn load_for_update(db: &impl ConnectionTrait, id: &str) -> Result<engineer::Model> {
    engineer::Entity::find_by_id(id.to_owned())
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("engineer", id))
}

/// How many position fixes are kept per engineer.
pub const POSITION_HISTORY: u64 = 2000;

/// One position fix as the phone sent it.
#[derive(Clone, Copy, Debug)]
pub struct Fix {
    pub position: GeoPoint,
    pub device_time_us: i64,
    pub accuracy_m: f64,
}

/// Stores fixes, moves the last known position forward (never back: batches sent after
/// being offline arrive late), and trims the history. Returns the engineer as now stored.
pub async fn record_positions(
    db: &impl ConnectionTrait,
    engineer_id: &str,
    fixes: &[Fix],
    now_us: i64,
) -> Result<engineer::Model> {
    let current = load(db, engineer_id, "engineer_id").await?;
    let rows = fixes.iter().map(|f| engineer_position::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        engineer_id: Set(current.id.clone()),
        latitude: Set(f.position.latitude()),
        longitude: Set(f.position.longitude()),
        accuracy_m: Set(f.accuracy_m),
        device_time_us: Set(f.device_time_us),
        received_at_us: Set(now_us),
    });
    engineer_position::Entity::insert_many(rows).exec(db).await?;
    // A device clock running ahead must not pin the position: no fix counts as newer than now.
    let newest = fixes.iter().map(|f| (f.device_time_us.min(now_us), f)).max_by_key(|(at, _)| *at);
    let mut saved = current.clone();
    if let Some((at, fix)) = newest.filter(|(at, _)| current.last_position_at_us.is_none_or(|last| *at > last)) {
        (saved.last_latitude, saved.last_longitude, saved.last_position_at_us) =
            (Some(fix.position.latitude()), Some(fix.position.longitude()), Some(at));
        engineer::Entity::update_many()
            .set(engineer::ActiveModel {
                last_latitude: Set(saved.last_latitude),
                last_longitude: Set(saved.last_longitude),
                last_position_at_us: Set(saved.last_position_at_us),
                ..Default::default()
            })
            .filter(engineer::Column::Id.eq(current.id.as_str()))
            .exec(db)
            .await?;
    }
    trim_positions(db, &current.id).await?;
    Ok(saved)
}

async fn trim_positions(db: &impl ConnectionTrait, engineer_id: &str) -> Result<()> {
    let keep_from = engineer_position::Entity::find()
        .filter(engineer_position::Column::EngineerId.eq(engineer_id))
        .order_by_desc(engineer_position::Column::DeviceTimeUs)
        .order_by_desc(engineer_position::Column::Id)
        .offset(POSITION_HISTORY - 1)
        .one(db)
        .await?;
    if let Some(oldest_kept) = keep_from {
        engineer_position::Entity::delete_many()
            .filter(engineer_position::Column::EngineerId.eq(engineer_id))
            .filter(
                Condition::any().add(engineer_position::Column::DeviceTimeUs.lt(oldest_kept.device_time_us)).add(
                    Condition::all()
                        .add(engineer_position::Column::DeviceTimeUs.eq(oldest_kept.device_time_us))
                        .add(engineer_position::Column::Id.lt(oldest_kept.id.as_str())),
                ),
            )
            .exec(db)
            .await?;
    }
    Ok(())
}

/// A page of an engineer's fixes, newest first, after the (time, id) cursor.
pub async fn positions(
    db: &impl ConnectionTrait,
    engineer_id: &str,
    after: Option<(i64, String)>,
    limit: u64,
) -> Result<Vec<engineer_position::Model>> {
    let mut query = engineer_position::Entity::find().filter(engineer_position::Column::EngineerId.eq(engineer_id));
    if let Some((at, id)) = after {
        query = query.filter(
            Condition::any().add(engineer_position::Column::DeviceTimeUs.lt(at)).add(
                Condition::all()
                    .add(engineer_position::Column::DeviceTimeUs.eq(at))
                    .add(engineer_position::Column::Id.lt(id)),
            ),
        );
    }
    Ok(query
        .order_by_desc(engineer_position::Column::DeviceTimeUs)
        .order_by_desc(engineer_position::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The rows of the engineers `ids` and the open slips they hold, for dispatch profiles.
pub async fn dispatch_rows(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<(Vec<engineer::Model>, Vec<slip::Model>)> {
    let engineers = engineer::Entity::find().filter(engineer::Column::Id.is_in(ids.iter().map(String::as_str)));
    Ok((engineers.all(db).await?, open_slips(db, Some(ids)).await?))
}

/// The open slips held by engineers: all of them, or those of `ids`.
pub async fn open_slips(db: &impl ConnectionTrait, ids: Option<&[String]>) -> Result<Vec<slip::Model>> {
    let open = SlipState::ALL.iter().filter(|s| s.is_open() && **s != SlipState::Declined).map(|s| s.as_str());
    let mut slips =
        slip::Entity::find().filter(slip::Column::EngineerId.is_not_null()).filter(slip::Column::State.is_in(open));
    if let Some(ids) = ids {
        slips = slips.filter(slip::Column::EngineerId.is_in(ids.iter().map(String::as_str)));
    }
    Ok(slips.all(db).await?)
}

/// Up to `limit` engineers by id after `after`, for building the dispatch index.
///
/// The database packs the page into one JSON array: SQLite's driver hands rows over one at a
/// time from its worker thread (about 10 µs each), which dominated a start with a large team.
pub async fn page(db: &impl ConnectionTrait, after: Option<&str>, limit: u64) -> Result<Vec<engineer::Model>> {
    let sql = match db.get_database_backend() {
        // PostgreSQL writes float8 in JSON exactly (the shortest form that reads back the same).
        sea_orm::DbBackend::Postgres => format!(
            "SELECT COALESCE(json_agg(json_build_array({columns}) ORDER BY id), '[]')::text AS packed \
             FROM (SELECT * FROM engineers WHERE id > $1 ORDER BY id LIMIT $2) AS page",
            columns = packed_columns(|column| column.to_owned())
        ),
        // SQLite's JSON keeps 15 digits of a REAL; 17 read back exactly, so the number is written
        // with 17 (`%!.17g`) and taken into the array as JSON text.
        _ => format!(
            "SELECT json_group_array(json_array({columns})) AS packed \
             FROM (SELECT * FROM engineers WHERE id > $1 ORDER BY id LIMIT $2)",
            columns = packed_columns(|column| format!("iif({column} IS NULL, NULL, json(printf('%!.17g', {column})))"))
        ),
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let row = super::query_one(db, &sql, vec![after.unwrap_or("").into(), limit.into()]).await?;
    let packed: String = match row {
        Some(row) => row.try_get("", "packed")?,
        None => return Ok(Vec::new()),
    };
    let rows: Vec<PackedEngineer> =
        serde_json::from_str(&packed).map_err(|e| Error::Internal(format!("engineer rows: {e}")))?;
    let mut models: Vec<engineer::Model> = rows.into_iter().map(PackedEngineer::into_model).collect();
    models.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    Ok(models)
}

/// The columns [`page`] packs, in [`PackedEngineer`]'s order, each real one as `real` writes it.
fn packed_columns(real: impl Fn(&str) -> String) -> String {
    const COLUMNS: [(&str, bool); 16] = [
        ("id", false),
        ("employee_number", false),
        ("name", false),
        ("phone", false),
        ("tier", false),
        ("skills", false),
        ("home_latitude", true),
        ("home_longitude", true),
        ("status", false),
        ("shift", false),
        ("days_off", false),
        ("last_latitude", true),
        ("last_longitude", true),
        ("last_position_at_us", false),
        ("created_at_us", false),
        ("version", false),
    ];
    COLUMNS
        .iter()
        .map(|(column, is_real)| if *is_real { real(column) } else { (*column).to_owned() })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An engineer row as [`page`] packs it, column by column.
#[derive(serde::Deserialize)]
struct PackedEngineer(
    String,
    String,
    String,
    String,
    i32,
    String,
    f64,
    f64,
    String,
    String,
    String,
    Option<f64>,
    Option<f64>,
    Option<i64>,
    i64,
    i64,
);

impl PackedEngineer {
    fn into_model(self) -> engineer::Model {
        engineer::Model {
            id: self.0,
            employee_number: self.1,
            name: self.2,
            phone: self.3,
            tier: self.4,
            skills: self.5,
            home_latitude: self.6,
            home_longitude: self.7,
            status: self.8,
            shift: self.9,
            days_off: self.10,
            last_latitude: self.11,
            last_longitude: self.12,
            last_position_at_us: self.13,
            created_at_us: self.14,
            version: self.15,
        }
    }
}
