//! What a dispatch request needs, resolved against the database: the slip's site, skills and
//! appointment, and its ticket's urgency and tier under the core dispatch policy; and the
//! ranking explained with distances and travel estimates.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use onsite_core::dispatch as policy;
use onsite_core::geo::GeoPoint;
use onsite_core::id::{EngineerId, SlipId};
use onsite_core::slip::Window;
use onsite_proto::v1 as pb;
use sea_orm::ConnectionTrait;

use super::Dispatch;
use super::index::{Need, Ranking};
use super::travel::Estimate;
use crate::error::{Error, Result};
use crate::repo::{slips, split_lines};
use crate::slip_views::SlipViews;

/// A suggestion request as the dispatcher asks it, validated.
#[derive(Clone, Debug)]
pub struct Ask {
    /// The slip to staff; its site, skills and appointment count.
    pub slip: Option<SlipId>,
    /// Where, when no slip is named.
    pub position: Option<GeoPoint>,
    pub window: Option<Window>,
    /// Lower-case skills the dispatcher adds.
    pub skills: Vec<String>,
    pub limit: usize,
    pub radius_km: f64,
}

/// The need of a request, and whether the job is urgent.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub need: Need,
    pub urgent: bool,
}

/// Resolves `ask` into what the index searches for.
/// The slip and its ticket's urgency come from what is kept when they have not changed since.
pub async fn resolve(
    db: &impl ConnectionTrait,
    views: &SlipViews,
    dispatch: &Dispatch,
    max_load: u32,
    ask: Ask,
    now: DateTime<Utc>,
) -> Result<Resolved> {
    let (position, mut skills, booked, min_tier, urgent) = match ask.slip {
        None => {
            let position = ask.position.ok_or_else(|| Error::invalid("position", "is required without slip_id"))?;
            (position, ask.skills, None, onsite_core::ticket::Tier::Field, false)
        }
        Some(slip_id) => {
            let kept = views.read(db, &slip_id.to_string()).await?;
            let slip = &kept.model;
            let site = kept.view.site_position.as_ref();
            let site = site.ok_or_else(|| Error::precondition("SLIP_WITHOUT_SITE", "the slip has no site to go to"))?;
            let position = GeoPoint::new(site.latitude, site.longitude, "site")?;
            let ticket = dispatch.facts().urgency(db, &slip.ticket_id).await?;
            let urgent = policy::is_urgent(ticket.severity, ticket.resolve_by, ticket.resolved, now);
            let mut skills = ask.skills;
            skills.extend(split_lines(&slip.required_skills));
            let booked = slips::domain(slip)?.appointment;
            (position, skills, booked, policy::min_tier(ticket.tier), urgent)
        }
    };
    skills.sort();
    skills.dedup();
    let need = Need {
        position,
        window: policy::window(ask.window, booked, now),
        skills,
        min_tier: min_tier.level(),
        max_distance_km: policy::search_radius(ask.radius_km, urgent),
        limit: ask.limit,
        max_load,
        slip: ask.slip,
    };
    Ok(Resolved { need, urgent })
}

/// A suggested engineer with the distance, travel estimate and load that put them there.
#[derive(Clone, Debug)]
pub struct Suggested {
    pub engineer: Arc<pb::Engineer>,
    pub distance_km: f64,
    pub estimate: Estimate,
    pub load: u32,
}

/// A close engineer left out, and why.
#[derive(Clone, Debug)]
pub struct LeftOut {
    pub engineer_id: EngineerId,
    pub engineer: Option<Arc<pb::Engineer>>,
    pub distance_km: f64,
    pub reason: &'static str,
}

/// A ranking as the dispatcher reads it.
#[derive(Clone, Debug)]
pub struct Explained {
    pub suggestions: Vec<Suggested>,
    pub exclusions: Vec<LeftOut>,
}

/// Explains a ranking: the engineers' records (kept ones when they have not changed since),
/// geodesic distances and travel estimates.
pub async fn explain(
    db: &impl ConnectionTrait,
    dispatch: &Dispatch,
    need: &Need,
    ranking: &Ranking,
) -> Result<Explained> {
    let ids: Vec<EngineerId> =
        ranking.suggestions.iter().map(|c| c.engineer).chain(ranking.exclusions.iter().map(|e| e.engineer)).collect();
    let mut records = dispatch.facts().engineers(db, &ids).await?;
    let origin = need.position;
    let distance = |id: &EngineerId| {
        let at = dispatch.position(id).unwrap_or(origin);
        (at, super::geodesic_km(at, origin))
    };
    let suggestions = ranking
        .suggestions
        .iter()
        .filter_map(|c| {
            let engineer = records.get(&c.engineer)?.clone();
            let (from, km) = distance(&c.engineer);
            let estimate = dispatch.travel().estimate(from, origin, km);
            Some(Suggested { engineer, distance_km: km, estimate, load: c.load })
        })
        .collect();
    let exclusions = ranking
        .exclusions
        .iter()
        .map(|e| LeftOut {
            engineer_id: e.engineer,
            engineer: records.remove(&e.engineer),
            distance_km: distance(&e.engineer).1,
            reason: e.reason.as_str(),
        })
        .collect();
    Ok(Explained { suggestions, exclusions })
}
