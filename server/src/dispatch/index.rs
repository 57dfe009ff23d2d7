//! The dispatch index: every engineer's last known position (home base when none) in an
//! R-tree, with what the filters need, answering "nearest suitable engineers" in microseconds.
//!
//! Positions are stored as points on a sphere in 3-D (kilometres from the earth's centre), so a
//! Euclidean ball in the tree is exactly a great-circle disc, with no trouble at the
//! antimeridian or the poles.

use std::collections::HashMap;

use chrono_tz::Tz;
use onsite_core::geo::GeoPoint;
use onsite_core::id::{EngineerId, SlipId};
use onsite_core::shift::{LocalSpan, Shift, WeeklyHours};
use onsite_core::slip::Window;
use rstar::RTree;
use rstar::primitives::GeomWithData;

/// Mean earth radius (IUGG), km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Engineers whose distances fall in the same band of this width are ranked by load first:
/// a free engineer 3.4 km away beats a busy one 3.1 km away.
pub const BAND_KM: f64 = 5.0;

/// At most this many exclusions are explained.
pub const MAX_EXCLUSIONS: usize = 10;

/// Why a close engineer was not suggested, in the order the filters are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exclusion {
    StatusOff,
    MissingSkill,
    TierTooLow,
    OffShift,
    DoubleBooked,
    Overloaded,
}

impl Exclusion {
    /// The stable reason code the dispatcher sees.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::StatusOff => "STATUS_OFF",
            Self::MissingSkill => "MISSING_SKILL",
            Self::TierTooLow => "TIER_TOO_LOW",
            Self::OffShift => "OFF_SHIFT",
            Self::DoubleBooked => "DOUBLE_BOOKED",
            Self::Overloaded => "OVERLOADED",
        }
    }
}

/// An appointment an engineer already has.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Booking {
    pub slip: SlipId,
    pub window: Window,
}

/// What the index knows of one engineer.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub id: EngineerId,
    /// Last known position, or the home base.
    pub position: GeoPoint,
    pub tier: u8,
    /// Lower-case skills.
    pub skills: Vec<String>,
    /// Status "off": not working at all.
    pub off: bool,
    /// When the engineer works.
    pub shift: Shift,
    /// Appointments of open slips.
    pub bookings: Vec<Booking>,
    /// Open slips assigned to the engineer.
    pub load: u32,
}

/// What the job needs.
#[derive(Clone, Debug)]
pub struct Need {
    pub position: GeoPoint,
    /// The engineer must work during it and have no overlapping appointment.
    pub window: Window,
    /// Lower-case skills, all required.
    pub skills: Vec<String>,
    pub min_tier: u8,
    pub max_distance_km: f64,
    pub limit: usize,
    /// Engineers with this many open slips or more are overloaded.
    pub max_load: u32,
    /// The slip being dispatched: its own appointment is no conflict.
    pub slip: Option<SlipId>,
}

/// A suitable engineer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub engineer: EngineerId,
    /// Great-circle distance.
    pub distance_km: f64,
    pub load: u32,
}

/// A close engineer left out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Excluded {
    pub engineer: EngineerId,
    pub distance_km: f64,
    pub reason: Exclusion,
}

/// The answer: best first, and why close engineers were left out (nearest first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ranking {
    pub suggestions: Vec<Candidate>,
    pub exclusions: Vec<Excluded>,
}

/// A tree leaf: the position and the engineer's slot. Small leaves keep the tree, and above
/// all its bulk load, small: the load holds several times its leaves while it partitions them.
type Point = GeomWithData<[f64; 3], u32>;

/// Nodes of up to 12 (rstar defaults to 6): a shallower tree. 12, 24 and 48 measured alike here.
#[derive(Debug)]
struct Params;

impl rstar::RTreeParams for Params {
    const MIN_SIZE: usize = 4;
    const MAX_SIZE: usize = 12;
    const REINSERTION_COUNT: usize = 4;
    type DefaultInsertionStrategy = rstar::RStarInsertionStrategy;
}

/// What the search reads of one engineer: most candidates are decided on this alone.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Hot {
    id: EngineerId,
    /// Index of the engineer's [`Cold`] record.
    slot: u32,
    /// Interned skills with ids below 64, as bits.
    skills: u64,
    load: u32,
    /// Interned weekly hours.
    hours: u32,
    tier: u8,
    off: bool,
    days_off: bool,
    /// The first [`INLINE_BOOKINGS`] appointments as (start, end) in microseconds.
    booked: [(i64, i64); INLINE_BOOKINGS],
    /// How many appointments there are in all (the rest are in the profile).
    bookings: u16,
}

/// Appointments kept inline in the tree leaf; engineers with more are looked up.
const INLINE_BOOKINGS: usize = 2;

/// The rest of an engineer.
#[derive(Debug)]
struct Cold {
    profile: Profile,
    /// Interned skills with ids of 64 and above.
    more_skills: Vec<u32>,
}

/// The in-memory index. Not synchronised: the owner wraps it in a lock.
#[derive(Debug)]
pub struct EngineerIndex {
    tz: Tz,
    tree: RTree<Point, Params>,
    /// By slot, densely: what the search reads of each engineer it meets.
    hot: Vec<Hot>,
    cold: Vec<Option<Cold>>,
    free: Vec<u32>,
    by_id: HashMap<EngineerId, u32>,
    skill_ids: HashMap<String, u32>,
    hours_ids: HashMap<WeeklyHours, u32>,
    hours: Vec<WeeklyHours>,
}

/// A need made ready for many checks: skills as bits, the window cut into local days, and
/// whether each weekly-hours pattern works in it (decided once, on first use).
struct Prepared<'a> {
    need: &'a Need,
    /// Some skill is known to nobody.
    impossible: bool,
    mask: u64,
    more: Vec<u32>,
    span: LocalSpan,
    /// The window in microseconds.
    window_us: (i64, i64),
    /// Per weekly-hours id: 0 unknown, 1 works, 2 does not.
    works: Vec<u8>,
}

impl EngineerIndex {
    /// An empty index; shifts are read in `tz`.
    pub fn new(tz: Tz) -> Self {
        Self {
            tz,
            tree: RTree::new_with_params(),
            hot: Vec::new(),
            cold: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            skill_ids: HashMap::new(),
            hours_ids: HashMap::new(),
            hours: Vec::new(),
        }
    }

    /// Builds the index from many profiles at once (bulk-loaded tree).
    pub fn build(tz: Tz, profiles: impl IntoIterator<Item = Profile>) -> Self {
        let mut index = Self::new(tz);
        let profiles = profiles.into_iter();
        // Sized once: a large team's slots are big, and growing by doubling copies them all.
        let count = profiles.size_hint().0;
        index.hot.reserve(count);
        index.cold.reserve(count);
        index.by_id.reserve(count);
        let mut leaves = Vec::with_capacity(count);
        for profile in profiles {
            if index.by_id.contains_key(&profile.id) {
                continue;
            }
            let slot = index.cold.len() as u32;
            let (hot, cold) = index.slot(profile, slot);
            index.by_id.insert(hot.id, slot);
            leaves.push(leaf(&cold, slot));
            index.hot.push(hot);
            index.cold.push(Some(cold));
        }
        index.tree = RTree::bulk_load_with_params(leaves);
        index
    }

    /// How many engineers are indexed.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no engineer is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The profile of an engineer.
    pub fn get(&self, id: &EngineerId) -> Option<&Profile> {
        let n = *self.by_id.get(id)?;
        self.cold.get(n as usize)?.as_ref().map(|c| &c.profile)
    }

    /// Adds or replaces an engineer.
    pub fn upsert(&mut self, profile: Profile) {
        self.remove(&profile.id);
        let n = self.free.pop().unwrap_or_else(|| {
            self.cold.push(None);
            self.hot.push(Hot::default());
            (self.cold.len() - 1) as u32
        });
        let (hot, cold) = self.slot(profile, n);
        self.by_id.insert(hot.id, n);
        self.tree.insert(leaf(&cold, n));
        self.hot[n as usize] = hot;
        self.cold[n as usize] = Some(cold);
    }

    /// Removes an engineer.
    pub fn remove(&mut self, id: &EngineerId) {
        let Some(n) = self.by_id.remove(id) else { return };
        if let Some(cold) = self.cold.get_mut(n as usize).and_then(Option::take) {
            self.tree.remove(&leaf(&cold, n));
            self.free.push(n);
        }
    }

    fn slot(&mut self, mut profile: Profile, slot: u32) -> (Hot, Cold) {
        profile.bookings.sort_by_key(|b| b.window.start);
        let mut hot = Hot {
            id: profile.id,
            slot,
            load: profile.load,
            tier: profile.tier,
            off: profile.off,
            days_off: !profile.shift.days_off().is_empty(),
            bookings: u16::try_from(profile.bookings.len()).unwrap_or(u16::MAX),
            ..Hot::default()
        };
        for (inline, booking) in hot.booked.iter_mut().zip(&profile.bookings) {
            *inline = (booking.window.start.timestamp_micros(), booking.window.end.timestamp_micros());
        }
        let mut more_skills = Vec::new();
        for skill in &profile.skills {
            // Looked up first: most skills are known, and a key is copied only when new.
            let id = match self.skill_ids.get(skill) {
                Some(id) => *id,
                None => {
                    let id = self.skill_ids.len() as u32;
                    self.skill_ids.insert(skill.clone(), id);
                    id
                }
            };
            if id < 64 {
                hot.skills |= 1 << id;
            } else {
                more_skills.push(id);
            }
        }
        more_skills.sort_unstable();
        more_skills.dedup();
        hot.hours = match self.hours_ids.get(profile.shift.hours()) {
            Some(id) => *id,
            None => {
                let id = self.hours.len() as u32;
                self.hours.push(profile.shift.hours().clone());
                self.hours_ids.insert(profile.shift.hours().clone(), id);
                id
            }
        };
        (hot, Cold { profile, more_skills })
    }

    fn prepare<'a>(&self, need: &'a Need) -> Prepared<'a> {
        let mut p = Prepared {
            need,
            impossible: false,
            mask: 0,
            more: Vec::new(),
            span: LocalSpan::new(&need.window, self.tz),
            window_us: (need.window.start.timestamp_micros(), need.window.end.timestamp_micros()),
            works: vec![0; self.hours.len()],
        };
        for skill in &need.skills {
            match self.skill_ids.get(skill) {
                Some(&id) if id < 64 => p.mask |= 1 << id,
                Some(&id) => p.more.push(id),
                None => p.impossible = true,
            }
        }
        p
    }

    fn cold(&self, hot: &Hot) -> Option<&Cold> {
        self.cold.get(hot.slot as usize)?.as_ref()
    }

    fn has_skills(&self, hot: &Hot, p: &Prepared<'_>) -> bool {
        !p.impossible
            && hot.skills & p.mask == p.mask
            && (p.more.is_empty()
                || self.cold(hot).is_some_and(|c| p.more.iter().all(|s| c.more_skills.binary_search(s).is_ok())))
    }

    fn on_shift(&self, hot: &Hot, p: &mut Prepared<'_>) -> bool {
        if hot.days_off
            && let Some(cold) = self.cold(hot)
            && p.span.touches_any(cold.profile.shift.days_off())
        {
            return cold.profile.shift.works_during(&p.span);
        }
        let memo = &mut p.works[hot.hours as usize];
        if *memo == 0 {
            *memo = if self.hours[hot.hours as usize].works_during(&p.span, |_| false) { 1 } else { 2 };
        }
        *memo == 1
    }

    fn free_in_window(&self, hot: &Hot, p: &Prepared<'_>) -> bool {
        let inline = usize::from(hot.bookings).min(INLINE_BOOKINGS);
        let (start, end) = p.window_us;
        let clash = hot.booked[..inline].iter().any(|&(s, e)| s < end && start < e);
        if !clash && usize::from(hot.bookings) <= INLINE_BOOKINGS {
            return true;
        }
        if clash && p.need.slip.is_none() {
            return false;
        }
        // Only the profile knows the appointments beyond the inline few, and which slip each
        // belongs to.
        self.cold(hot).is_none_or(|c| {
            !c.profile.bookings.iter().any(|b| Some(b.slip) != p.need.slip && b.window.overlaps(&p.need.window))
        })
    }

    /// Whether the engineer passes every filter; the cheapest checks run first.
    fn suitable(&self, hot: &Hot, p: &mut Prepared<'_>) -> bool {
        !hot.off
            && hot.tier >= p.need.min_tier
            && hot.load < p.need.max_load
            && self.has_skills(hot, p)
            && self.on_shift(hot, p)
            && self.free_in_window(hot, p)
    }

    /// Why the engineer is not suitable: the first filter failed, in the documented order.
    fn reason(&self, hot: &Hot, p: &mut Prepared<'_>) -> Exclusion {
        if hot.off {
            Exclusion::StatusOff
        } else if !self.has_skills(hot, p) {
            Exclusion::MissingSkill
        } else if hot.tier < p.need.min_tier {
            Exclusion::TierTooLow
        } else if !self.on_shift(hot, p) {
            Exclusion::OffShift
        } else if !self.free_in_window(hot, p) {
            Exclusion::DoubleBooked
        } else {
            Exclusion::Overloaded
        }
    }

    /// Files engineer `n` at `distance_km` as found or left out.
    fn sort_in(
        &self,
        hot: &Hot,
        distance_km: f64,
        p: &mut Prepared<'_>,
        found: &mut Vec<Candidate>,
        out: &mut Vec<Out>,
    ) {
        if self.suitable(hot, p) {
            found.push(Candidate { engineer: hot.id, distance_km, load: hot.load });
        } else {
            out.push(Out { distance_km, engineer: hot.id, slot: hot.slot });
        }
    }

    /// Nearest suitable engineers. Searches rings of whole distance bands around the position,
    /// each as wide as the density seen so far suggests, until `limit` suitable engineers are
    /// found (their bands are then complete) or the radius is exhausted.
    pub fn suggest(&self, need: &Need) -> Ranking {
        let mut p = self.prepare(need);
        let origin = to_xyz(need.position);
        let mut found = Vec::with_capacity(32);
        let mut out = Vec::with_capacity(256);
        let (mut inner, mut outer) = (0.0, BAND_KM);
        loop {
            let last = outer >= need.max_distance_km;
            let reach = if last { need.max_distance_km } else { outer };
            let ring = Ring::new(origin, inner, reach);
            for point in self.tree.locate_with_selection_function(ring) {
                let distance_km = chord_to_km(distance(origin, *point.geom()));
                let in_ring = distance_km >= inner && if last { distance_km <= reach } else { distance_km < reach };
                if in_ring && let Some(hot) = self.hot.get(point.data as usize) {
                    self.sort_in(hot, distance_km, &mut p, &mut found, &mut out);
                }
            }
            if found.len() >= need.limit || last {
                break;
            }
            (inner, outer) = (outer, next_reach(outer, found.len(), need.limit));
        }
        self.finish(found, out, &mut p)
    }

    /// The same answer by checking every engineer: the reference for tests and benchmarks.
    pub fn suggest_by_scan(&self, need: &Need) -> Ranking {
        let mut p = self.prepare(need);
        let origin = to_xyz(need.position);
        let mut found = Vec::with_capacity(32);
        let mut out = Vec::with_capacity(256);
        for point in self.tree.iter() {
            let distance_km = chord_to_km(distance(origin, *point.geom()));
            if distance_km <= need.max_distance_km
                && let Some(hot) = self.hot.get(point.data as usize)
            {
                self.sort_in(hot, distance_km, &mut p, &mut found, &mut out);
            }
        }
        self.finish(found, out, &mut p)
    }

    /// Ranks, cuts to `limit`, and explains the nearest engineers left out within the bands
    /// that could make the list.
    fn finish(&self, mut found: Vec<Candidate>, mut out: Vec<Out>, p: &mut Prepared<'_>) -> Ranking {
        let limit = p.need.limit;
        // Selecting before sorting: a dense city can have hundreds of suitable engineers
        // within the first band, and only `limit` of them are ranked.
        if let Some(last) = limit.checked_sub(1).filter(|&last| last < found.len()) {
            let (_, kth, _) = found.select_nth_unstable_by(last, |a, b| a.distance_km.total_cmp(&b.distance_km));
            // No one beyond the band of the limit-th nearest suitable engineer makes the list.
            let cut = band(kth.distance_km);
            out.retain(|o| band(o.distance_km) <= cut);
            found.select_nth_unstable_by(last, rank);
        }
        found.truncate(limit);
        found.sort_by(rank);
        let nearest = |a: &Out, b: &Out| a.distance_km.total_cmp(&b.distance_km).then(a.engineer.cmp(&b.engineer));
        if out.len() > MAX_EXCLUSIONS {
            out.select_nth_unstable_by(MAX_EXCLUSIONS, nearest);
            out.truncate(MAX_EXCLUSIONS);
        }
        out.sort_by(nearest);
        let exclusions = out
            .into_iter()
            .filter_map(|o| {
                let hot = *self.hot.get(o.slot as usize)?;
                Some(Excluded { engineer: o.engineer, distance_km: o.distance_km, reason: self.reason(&hot, p) })
            })
            .collect();
        Ranking { suggestions: found, exclusions }
    }
}

/// How far the next ring reaches: as far as `found` suitable engineers within `reach` km
/// suggest `limit` will be found (they grow with the area, the square of the radius), with a
/// margin; twice as far when none were found; always at least one band further.
fn next_reach(reach: f64, found: usize, limit: usize) -> f64 {
    let wanted = if found == 0 { reach * 2.0 } else { reach * (limit as f64 / found as f64).sqrt() * 1.2 };
    let bands = (wanted.clamp(reach + BAND_KM, reach * 4.0) / BAND_KM).ceil();
    bands * BAND_KM
}

/// The tree leaf of the engineer in `slot`: removal finds it by building it again.
fn leaf(cold: &Cold, slot: u32) -> Point {
    Point::new(to_xyz(cold.profile.position), slot)
}

/// An engineer left out, until the nearest few are explained.
#[derive(Clone, Copy, Debug)]
struct Out {
    distance_km: f64,
    engineer: EngineerId,
    slot: u32,
}

/// The tree nodes and leaves that may hold points between `inner` and `reach` km of `origin`.
/// Pruning is a hair generous; the caller decides membership exactly.
struct Ring {
    origin: [f64; 3],
    /// Squared chords, with margins.
    inner2: f64,
    outer2: f64,
}

impl Ring {
    fn new(origin: [f64; 3], inner_km: f64, reach_km: f64) -> Self {
        let inner = km_to_chord(inner_km) * (1.0 - 1e-9) - 1e-9;
        let outer = km_to_chord(reach_km) * (1.0 + 1e-9) + 1e-9;
        Self { origin, inner2: inner.max(0.0).powi(2), outer2: outer * outer }
    }
}

impl rstar::SelectionFunction<Point> for Ring {
    fn should_unpack_parent(&self, envelope: &rstar::AABB<[f64; 3]>) -> bool {
        let (lo, hi) = (envelope.lower(), envelope.upper());
        let (mut near, mut far) = (0.0, 0.0);
        for axis in 0..3 {
            let o = self.origin[axis];
            let gap = if o < lo[axis] {
                lo[axis] - o
            } else if o > hi[axis] {
                o - hi[axis]
            } else {
                0.0
            };
            let reach = (o - lo[axis]).abs().max((hi[axis] - o).abs());
            near += gap * gap;
            far += reach * reach;
        }
        // Some of the box within the outer ball, and not all of it inside the inner one
        // (those points were taken by an earlier ring).
        near <= self.outer2 && far >= self.inner2
    }

    fn should_unpack_leaf(&self, leaf: &Point) -> bool {
        let d = distance(self.origin, *leaf.geom());
        d * d <= self.outer2 && d * d >= self.inner2
    }
}

/// Distance band first, then load, then exact distance; the id makes the order total.
fn rank(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    band(a.distance_km)
        .cmp(&band(b.distance_km))
        .then(a.load.cmp(&b.load))
        .then(a.distance_km.total_cmp(&b.distance_km))
        .then(a.engineer.cmp(&b.engineer))
}

fn band(distance_km: f64) -> u64 {
    (distance_km / BAND_KM) as u64
}

fn to_xyz(p: GeoPoint) -> [f64; 3] {
    let (lat, lon) = (p.latitude().to_radians(), p.longitude().to_radians());
    [EARTH_RADIUS_KM * lat.cos() * lon.cos(), EARTH_RADIUS_KM * lat.cos() * lon.sin(), EARTH_RADIUS_KM * lat.sin()]
}

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    // Summed like rstar's distance_2, so the scan and the tree compute identical distances.
    let (x, y, z) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    (x * x + y * y + z * z).sqrt()
}

/// The chord through the sphere of a great-circle distance.
fn km_to_chord(km: f64) -> f64 {
    2.0 * EARTH_RADIUS_KM * (km.min(std::f64::consts::PI * EARTH_RADIUS_KM) / (2.0 * EARTH_RADIUS_KM)).sin()
}

/// Great-circle distance of a chord through the sphere.
fn chord_to_km(chord: f64) -> f64 {
    2.0 * EARTH_RADIUS_KM * (chord / (2.0 * EARTH_RADIUS_KM)).min(1.0).asin()
}

/// Great-circle distance between two positions, km.
pub fn great_circle_km(a: GeoPoint, b: GeoPoint) -> f64 {
    chord_to_km(distance(to_xyz(a), to_xyz(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use proptest::prelude::*;

    fn monday(hour: u32, hours: i64) -> Window {
        // 2026-11-23 is a Monday.
        let start = Utc.with_ymd_and_hms(2026, 11, 23, hour, 0, 0).single().unwrap_or_default();
        Window { start, end: start + Duration::hours(hours) }
    }

    fn point(lat: f64, lon: f64) -> GeoPoint {
        GeoPoint::new(lat, lon, "p").unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn weekdays() -> Shift {
        Shift::parse("Mon-Fri 08:00-17:00", [], "shift").unwrap_or_default()
    }

    fn profile(lat: f64, lon: f64) -> Profile {
        Profile {
            id: EngineerId::new(),
            position: point(lat, lon),
            tier: 2,
            skills: vec!["payroll".into()],
            off: false,
            shift: weekdays(),
            bookings: Vec::new(),
            load: 0,
        }
    }

    fn need(lat: f64, lon: f64) -> Need {
        Need {
            position: point(lat, lon),
            window: monday(10, 2),
            skills: vec!["payroll".into()],
            min_tier: 2,
            max_distance_km: 100.0,
            limit: 5,
            max_load: 4,
            slip: None,
        }
    }

    #[test]
    fn each_filter_excludes_exactly_its_engineer() {
        let good = profile(31.0, 121.0);
        let off = Profile { off: true, ..profile(31.001, 121.0) };
        let unskilled = Profile { skills: vec!["printers".into()], ..profile(31.002, 121.0) };
        let junior = Profile { tier: 1, ..profile(31.003, 121.0) };
        let weekend = Profile {
            shift: Shift::parse("Sat-Sun 08:00-17:00", [], "shift").unwrap_or_default(),
            ..profile(31.004, 121.0)
        };
        let own_slip = SlipId::new();
        let booked = Profile {
            bookings: vec![Booking { slip: SlipId::new(), window: monday(11, 1) }],
            ..profile(31.005, 121.0)
        };
        let overloaded = Profile { load: 4, ..profile(31.006, 121.0) };
        let rebooking =
            Profile { bookings: vec![Booking { slip: own_slip, window: monday(10, 1) }], ..profile(31.007, 121.0) };
        let all = [&good, &off, &unskilled, &junior, &weekend, &booked, &overloaded, &rebooking];
        let index = EngineerIndex::build(Tz::UTC, all.iter().map(|p| (*p).clone()));
        let ranking = index.suggest(&Need { slip: Some(own_slip), ..need(31.0, 121.0) });
        let ids: Vec<EngineerId> = ranking.suggestions.iter().map(|c| c.engineer).collect();
        assert_eq!(ids, [good.id, rebooking.id], "the slip's own appointment is no conflict");
        let excluded: Vec<(EngineerId, Exclusion)> =
            ranking.exclusions.iter().map(|e| (e.engineer, e.reason)).collect();
        assert_eq!(
            excluded,
            [
                (off.id, Exclusion::StatusOff),
                (unskilled.id, Exclusion::MissingSkill),
                (junior.id, Exclusion::TierTooLow),
                (weekend.id, Exclusion::OffShift),
                (booked.id, Exclusion::DoubleBooked),
                (overloaded.id, Exclusion::Overloaded),
            ]
        );
        let unknown_skill = index.suggest(&Need { skills: vec!["welding".into()], ..need(31.0, 121.0) });
        assert!(unknown_skill.suggestions.is_empty());
        assert!(
            unknown_skill.exclusions.iter().all(|e| matches!(e.reason, Exclusion::MissingSkill | Exclusion::StatusOff))
        );
    }

    #[test]
    fn load_decides_within_a_band_distance_across_bands() {
        let near_busy = Profile { load: 3, ..profile(31.0, 121.01) }; // ~1 km
        let far_free = Profile { load: 0, ..profile(31.0, 121.04) }; // ~3.8 km, same band
        let farther = Profile { load: 0, ..profile(31.0, 121.1) }; // ~9.5 km, next band
        let index = EngineerIndex::build(Tz::UTC, [near_busy.clone(), far_free.clone(), farther.clone()]);
        let ids: Vec<EngineerId> = index.suggest(&need(31.0, 121.0)).suggestions.iter().map(|c| c.engineer).collect();
        assert_eq!(ids, [far_free.id, near_busy.id, farther.id]);
    }

    #[test]
    fn moves_and_removals_are_seen() {
        let mut index = EngineerIndex::new(Tz::UTC);
        let e = profile(45.0, 10.0);
        index.upsert(e.clone());
        assert!(index.suggest(&need(31.0, 121.0)).suggestions.is_empty());
        index.upsert(Profile { position: point(31.0, 121.0), ..e.clone() });
        assert_eq!(index.suggest(&need(31.0, 121.0)).suggestions.len(), 1);
        assert_eq!(index.len(), 1);
        index.remove(&e.id);
        assert!(index.suggest(&need(31.0, 121.0)).suggestions.is_empty());
        assert!(index.is_empty());
    }

    #[test]
    fn distances_cross_the_antimeridian() {
        let index = EngineerIndex::build(Tz::UTC, [profile(0.0, 179.95)]);
        let ranking = index.suggest(&need(0.0, -179.95));
        assert_eq!(ranking.suggestions.len(), 1);
        assert!((ranking.suggestions[0].distance_km - 11.12).abs() < 0.05);
    }

    /// The documented rules, written plainly on the profiles: the reference for the index.
    fn reference(profiles: &[Profile], need: &Need) -> Ranking {
        let span = LocalSpan::new(&need.window, Tz::UTC);
        let reason = |e: &Profile| {
            if e.off {
                Some(Exclusion::StatusOff)
            } else if !need.skills.iter().all(|s| e.skills.contains(s)) {
                Some(Exclusion::MissingSkill)
            } else if e.tier < need.min_tier {
                Some(Exclusion::TierTooLow)
            } else if !e.shift.works_during(&span) {
                Some(Exclusion::OffShift)
            } else if e.bookings.iter().any(|b| Some(b.slip) != need.slip && b.window.overlaps(&need.window)) {
                Some(Exclusion::DoubleBooked)
            } else if e.load >= need.max_load {
                Some(Exclusion::Overloaded)
            } else {
                None
            }
        };
        let mut found = Vec::new();
        let mut out = Vec::new();
        for e in profiles {
            let distance_km = great_circle_km(need.position, e.position);
            if distance_km > need.max_distance_km {
                continue;
            }
            match reason(e) {
                None => found.push(Candidate { engineer: e.id, distance_km, load: e.load }),
                Some(reason) => out.push(Excluded { engineer: e.id, distance_km, reason }),
            }
        }
        found.sort_by(|a, b| a.distance_km.total_cmp(&b.distance_km));
        if let Some(last) = found.get(need.limit.wrapping_sub(1)) {
            let cut = band(last.distance_km);
            out.retain(|o| band(o.distance_km) <= cut);
        }
        found.sort_by(rank);
        found.truncate(need.limit);
        out.sort_by(|a, b| a.distance_km.total_cmp(&b.distance_km).then(a.engineer.cmp(&b.engineer)));
        out.truncate(MAX_EXCLUSIONS);
        Ranking { suggestions: found, exclusions: out }
    }

    /// A slip some random engineers have an appointment for; suggesting for it ignores those.
    fn shared_slip() -> SlipId {
        "01900000-0000-7000-8000-000000000001".parse().unwrap_or_default()
    }

    fn arbitrary_profile() -> impl Strategy<Value = Profile> {
        (
            (30.0f64..32.0, 120.0f64..122.0),
            1u8..=3,
            proptest::sample::subsequence(vec!["payroll", "database", "printers"], 0..=3),
            proptest::bool::weighted(0.1),
            any::<bool>(),
            proptest::collection::vec((0u32..20, proptest::bool::weighted(0.2)), 0..5),
            0u32..6,
            proptest::bool::weighted(0.2),
        )
            .prop_map(|((lat, lon), tier, skills, off, weekend, booked, load, day_off)| {
                let hours = if weekend { "Sat-Sun 08:00-17:00" } else { "Mon-Fri 08:00-17:00" };
                let days_off = day_off.then(|| monday(0, 1).start.date_naive());
                Profile {
                    skills: skills.into_iter().map(str::to_owned).collect(),
                    tier,
                    off,
                    shift: Shift::parse(hours, days_off, "s").unwrap_or_default(),
                    bookings: booked
                        .into_iter()
                        .map(|(h, shared)| Booking {
                            slip: if shared { shared_slip() } else { SlipId::new() },
                            window: monday(h, 1),
                        })
                        .collect(),
                    load,
                    ..profile(lat, lon)
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// The tree walk and the scan answer exactly what the plainly written rules answer.
        #[test]
        fn suggestions_equal_the_brute_force_scan(
            profiles in proptest::collection::vec(arbitrary_profile(), 0..300),
            lat in 30.0f64..32.0,
            lon in 120.0f64..122.0,
            skills in proptest::sample::subsequence(vec!["payroll", "database"], 0..=2),
            min_tier in 1u8..=3,
            hour in 0u32..20,
            radius in 1.0f64..150.0,
            limit in 1usize..8,
            for_shared_slip in any::<bool>(),
            many_skills in any::<bool>(),
        ) {
            let mut index = EngineerIndex::new(Tz::UTC);
            let mut all = Vec::new();
            if many_skills {
                // Interns 70 skills first, so the ones asked for get ids beyond the bit set.
                all.push(Profile { skills: (0..70).map(|i| format!("s{i}")).collect(), ..profile(-40.0, -60.0) });
            }
            all.extend(profiles);
            for p in &all {
                index.upsert(p.clone());
            }
            let need = Need {
                skills: skills.into_iter().map(str::to_owned).collect(),
                min_tier,
                window: monday(hour, 2),
                max_distance_km: radius,
                limit,
                slip: for_shared_slip.then(shared_slip),
                ..need(lat, lon)
            };
            let expected = reference(&all, &need);
            prop_assert_eq!(&index.suggest(&need), &expected, "the tree walk");
            prop_assert_eq!(&index.suggest_by_scan(&need), &expected, "the scan");
        }

        /// Engineers removed, and moved into the freed slots, are found where they are now.
        #[test]
        fn removals_and_moves_reuse_slots_correctly(
            profiles in proptest::collection::vec(arbitrary_profile(), 1..200),
            removed in proptest::collection::vec(any::<bool>(), 200),
            moved in proptest::collection::vec(any::<bool>(), 200),
            lat in 30.0f64..32.0,
            lon in 120.0f64..122.0,
        ) {
            let mut index = EngineerIndex::build(Tz::UTC, profiles.clone());
            let mut now = Vec::new();
            for (i, p) in profiles.into_iter().enumerate() {
                if removed[i] {
                    index.remove(&p.id);
                } else {
                    now.push(p);
                }
            }
            for (i, p) in now.iter_mut().enumerate() {
                if moved[i] {
                    p.position = point(lat + 0.01 * (i % 7) as f64, lon - 0.01 * (i % 5) as f64);
                    index.upsert(p.clone());
                }
            }
            prop_assert_eq!(index.len(), now.len());
            let need = Need { max_distance_km: 150.0, limit: 7, ..need(lat, lon) };
            let expected = reference(&now, &need);
            prop_assert_eq!(&index.suggest(&need), &expected, "the tree walk");
            prop_assert_eq!(&index.suggest_by_scan(&need), &expected, "the scan");
        }
    }
}
