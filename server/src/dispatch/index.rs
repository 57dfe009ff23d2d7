//! The dispatch index: every engineer's last known position (home base when none) in an
//! R-tree, with what the filters need, answering "nearest suitable engineers" in microseconds.
//!
//! Positions are stored as points on a sphere in 3-D (kilometres from the earth's centre), so
//! the tree's Euclidean nearest-first order is exactly great-circle order, with no trouble at
//! the antimeridian or the poles.

use std::collections::HashMap;

use chrono_tz::Tz;
use onsite_core::geo::GeoPoint;
use onsite_core::id::{EngineerId, SlipId};
use onsite_core::shift::{LocalSpan, Shift};
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

type Point = GeomWithData<[f64; 3], u32>;

/// A profile with its skills interned, as the filters read it.
#[derive(Debug)]
struct Slot {
    profile: Profile,
    point: [f64; 3],
    skills: Vec<u32>,
}

/// The in-memory index. Not synchronised: the owner wraps it in a lock.
#[derive(Debug)]
pub struct EngineerIndex {
    tz: Tz,
    tree: RTree<Point>,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    by_id: HashMap<EngineerId, u32>,
    skill_ids: HashMap<String, u32>,
}

/// A need with its skills interned and its window cut into local days.
struct Prepared<'a> {
    need: &'a Need,
    /// `None` when some skill is known to nobody.
    skills: Option<Vec<u32>>,
    span: LocalSpan,
}

impl EngineerIndex {
    /// An empty index; shifts are read in `tz`.
    pub fn new(tz: Tz) -> Self {
        Self {
            tz,
            tree: RTree::new(),
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            skill_ids: HashMap::new(),
        }
    }

    /// Builds the index from many profiles at once (bulk-loaded tree).
    pub fn build(tz: Tz, profiles: impl IntoIterator<Item = Profile>) -> Self {
        let mut index = Self::new(tz);
        let mut points = Vec::new();
        for profile in profiles {
            if index.by_id.contains_key(&profile.id) {
                continue;
            }
            let slot = index.slot(profile);
            let n = index.slots.len() as u32;
            index.by_id.insert(slot.profile.id, n);
            points.push(Point::new(slot.point, n));
            index.slots.push(Some(slot));
        }
        index.tree = RTree::bulk_load(points);
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
        self.slots.get(n as usize)?.as_ref().map(|s| &s.profile)
    }

    /// Adds or replaces an engineer.
    pub fn upsert(&mut self, profile: Profile) {
        self.remove(&profile.id);
        let slot = self.slot(profile);
        let n = match self.free.pop() {
            Some(n) => n,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        self.by_id.insert(slot.profile.id, n);
        self.tree.insert(Point::new(slot.point, n));
        self.slots[n as usize] = Some(slot);
    }

    /// Removes an engineer.
    pub fn remove(&mut self, id: &EngineerId) {
        let Some(n) = self.by_id.remove(id) else { return };
        if let Some(slot) = self.slots.get_mut(n as usize).and_then(Option::take) {
            self.tree.remove(&Point::new(slot.point, n));
            self.free.push(n);
        }
    }

    fn slot(&mut self, mut profile: Profile) -> Slot {
        profile.bookings.sort_by_key(|b| b.window.start);
        let mut skills: Vec<u32> = profile
            .skills
            .iter()
            .map(|s| {
                let next = self.skill_ids.len() as u32;
                *self.skill_ids.entry(s.clone()).or_insert(next)
            })
            .collect();
        skills.sort_unstable();
        skills.dedup();
        Slot { point: to_xyz(profile.position), profile, skills }
    }

    fn prepare<'a>(&self, need: &'a Need) -> Prepared<'a> {
        let skills = need.skills.iter().map(|s| self.skill_ids.get(s).copied()).collect::<Option<Vec<u32>>>();
        Prepared { need, skills, span: LocalSpan::new(&need.window, self.tz) }
    }

    /// The first filter `slot` fails, if any.
    fn check(&self, slot: &Slot, p: &Prepared<'_>) -> Option<Exclusion> {
        let e = &slot.profile;
        if e.off {
            return Some(Exclusion::StatusOff);
        }
        let has_skills =
            p.skills.as_ref().is_some_and(|need| need.iter().all(|s| slot.skills.binary_search(s).is_ok()));
        if !has_skills {
            return Some(Exclusion::MissingSkill);
        }
        if e.tier < p.need.min_tier {
            return Some(Exclusion::TierTooLow);
        }
        if !e.shift.works_during(&p.span) {
            return Some(Exclusion::OffShift);
        }
        let window = &p.need.window;
        if e.bookings.iter().any(|b| Some(b.slip) != p.need.slip && b.window.overlaps(window)) {
            return Some(Exclusion::DoubleBooked);
        }
        if e.load >= p.need.max_load {
            return Some(Exclusion::Overloaded);
        }
        None
    }

    /// Nearest suitable engineers: walks the tree nearest-first and stops once `limit`
    /// suitable engineers are found and the walk has left their distance band.
    pub fn suggest(&self, need: &Need) -> Ranking {
        let prepared = self.prepare(need);
        let mut found = Vec::new();
        let mut excluded = Vec::new();
        let mut cutoff_band = None;
        for (point, d2) in self.tree.nearest_neighbor_iter_with_distance_2(&to_xyz(need.position)) {
            let distance_km = chord_to_km(d2.sqrt());
            if distance_km > need.max_distance_km || cutoff_band.is_some_and(|cut| band(distance_km) > cut) {
                break;
            }
            let Some(slot) = self.slots.get(point.data as usize).and_then(Option::as_ref) else { continue };
            match self.check(slot, &prepared) {
                None => {
                    found.push(Candidate { engineer: slot.profile.id, distance_km, load: slot.profile.load });
                    if found.len() == need.limit {
                        cutoff_band = Some(band(distance_km));
                    }
                }
                Some(reason) => excluded.push(Excluded { engineer: slot.profile.id, distance_km, reason }),
            }
        }
        finish(found, excluded, need.limit, cutoff_band)
    }

    /// The same answer by scanning every engineer: the reference for tests and benchmarks.
    pub fn suggest_by_scan(&self, need: &Need) -> Ranking {
        let prepared = self.prepare(need);
        let origin = to_xyz(need.position);
        let mut found = Vec::new();
        let mut excluded = Vec::new();
        for slot in self.slots.iter().flatten() {
            let distance_km = chord_to_km(distance(origin, slot.point));
            if distance_km > need.max_distance_km {
                continue;
            }
            match self.check(slot, &prepared) {
                None => found.push(Candidate { engineer: slot.profile.id, distance_km, load: slot.profile.load }),
                Some(reason) => excluded.push(Excluded { engineer: slot.profile.id, distance_km, reason }),
            }
        }
        found.sort_by(rank);
        let cutoff_band = (found.len() >= need.limit && need.limit > 0)
            .then(|| found[..need.limit].iter().map(|c| band(c.distance_km)).max())
            .flatten();
        if let Some(cut) = cutoff_band {
            excluded.retain(|e| band(e.distance_km) <= cut);
        }
        finish(found, excluded, need.limit, cutoff_band)
    }
}

/// Ranks, cuts to `limit`, and keeps the nearest exclusions within the band walked.
fn finish(mut found: Vec<Candidate>, mut excluded: Vec<Excluded>, limit: usize, cutoff_band: Option<u64>) -> Ranking {
    found.sort_by(rank);
    found.truncate(limit);
    if let Some(cut) = cutoff_band {
        excluded.retain(|e| band(e.distance_km) <= cut);
    }
    excluded.sort_by(|a, b| a.distance_km.total_cmp(&b.distance_km).then(a.engineer.cmp(&b.engineer)));
    excluded.truncate(MAX_EXCLUSIONS);
    Ranking { suggestions: found, exclusions: excluded }
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

    fn arbitrary_profile() -> impl Strategy<Value = Profile> {
        (
            30.0f64..32.0,
            120.0f64..122.0,
            1u8..=3,
            proptest::sample::subsequence(vec!["payroll", "database", "printers"], 0..=3),
            proptest::bool::weighted(0.1),
            any::<bool>(),
            proptest::option::of(0u32..20),
            0u32..6,
        )
            .prop_map(|(lat, lon, tier, skills, off, weekend, booked_at, load)| Profile {
                skills: skills.into_iter().map(str::to_owned).collect(),
                tier,
                off,
                shift: if weekend {
                    Shift::parse("Sat-Sun 08:00-17:00", [], "s").unwrap_or_default()
                } else {
                    weekdays()
                },
                bookings: booked_at
                    .map(|h| vec![Booking { slip: SlipId::new(), window: monday(h, 1) }])
                    .unwrap_or_default(),
                load,
                ..profile(lat, lon)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// The tree walk answers exactly what scanning every engineer answers.
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
        ) {
            let mut index = EngineerIndex::new(Tz::UTC);
            for p in profiles {
                index.upsert(p);
            }
            let need = Need {
                skills: skills.into_iter().map(str::to_owned).collect(),
                min_tier,
                window: monday(hour, 2),
                max_distance_km: radius,
                limit,
                ..need(lat, lon)
            };
            prop_assert_eq!(index.suggest(&need), index.suggest_by_scan(&need));
        }
    }
}
