//! "Nearest suitable engineer": the R-tree walk against a scan of every engineer, on the same
//! data in the same run, at 1k, 10k and 100k engineers.
//!
//! The data looks like a national service organisation: engineers clustered around cities
//! (σ ≈ 18 km), 12 product lines (2-4 per engineer), 20% experts, 5% off, 30% on other shifts
//! than Mon-Fri, 0-3 appointments on the day and 0-7 open slips each. Each query is a customer
//! site near a random city needing one product line, a two-hour window on a Monday, the five
//! best within 100 km, at most 6 open slips. 256 queries rotate so caches cannot remember one
//! answer. Two layouts:
//! - `national`: 300 cities over 25° x 25° (every prefecture has a service team);
//! - `dense`: 40 cities over 18° x 12° (a stress case: 2,500 engineers per city at 100k).
//!
//! Run with `cargo bench -p onsite-server --bench nearest`.

use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use onsite_core::geo::GeoPoint;
use onsite_core::id::{EngineerId, SlipId};
use onsite_core::shift::Shift;
use onsite_core::slip::Window;
use onsite_server::dispatch::index::{Booking, EngineerIndex, Need, Profile};

const PRODUCT_LINES: [&str; 12] =
    ["payroll", "erp", "database", "printers", "network", "pos", "storage", "backup", "scanner", "crm", "hr", "mes"];

/// SplitMix64: a small, seeded, reproducible generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Roughly normal, by summing uniforms.
    fn gauss(&mut self) -> f64 {
        (0..6).map(|_| self.unit()).sum::<f64>() - 3.0
    }
}

fn monday(hour: u32, hours: i64) -> Window {
    let start = Utc.with_ymd_and_hms(2026, 11, 23, hour, 0, 0).single().unwrap_or_default();
    Window { start, end: start + chrono::Duration::hours(hours) }
}

/// `n` city centres in a box of `lat_span` x `lon_span` degrees.
fn cities(rng: &mut Rng, n: usize, lat_span: f64, lon_span: f64) -> Vec<(f64, f64)> {
    (0..n).map(|_| (20.0 + rng.unit() * lat_span, 100.0 + rng.unit() * lon_span)).collect()
}

fn near(rng: &mut Rng, (lat, lon): (f64, f64), spread_km: f64) -> GeoPoint {
    let lat = (lat + rng.gauss() * spread_km / 111.0).clamp(-89.0, 89.0);
    let lon = lon + rng.gauss() * spread_km / 95.0;
    GeoPoint::new(lat, lon, "p").unwrap_or_else(|e| panic!("{e:?}"))
}

fn engineers(n: usize, rng: &mut Rng, cities: &[(f64, f64)]) -> Vec<Profile> {
    let shifts = [
        Shift::parse("Mon-Fri 08:30-17:30", [], "s"),
        Shift::parse("Tue-Sat 09:00-18:00", [], "s"),
        Shift::parse("Sat-Sun 08:00-20:00", [], "s"),
        Shift::parse("Mon-Fri 13:00-22:00", [], "s"),
    ]
    .map(|s| s.unwrap_or_else(|e| panic!("{e:?}")));
    (0..n)
        .map(|_| {
            let city = cities[rng.below(cities.len() as u64) as usize];
            let lines = 2 + rng.below(3) as usize;
            let skills = (0..lines).map(|_| PRODUCT_LINES[rng.below(12) as usize].to_owned()).collect();
            let shift = if rng.unit() < 0.7 { shifts[0].clone() } else { shifts[1 + rng.below(3) as usize].clone() };
            let bookings = (0..rng.below(4))
                .map(|_| Booking { slip: SlipId::new(), window: monday(8 + rng.below(9) as u32, 2) })
                .collect();
            Profile {
                id: EngineerId::new(),
                position: near(rng, city, 25.0),
                tier: if rng.unit() < 0.2 { 3 } else { 2 },
                skills,
                off: rng.unit() < 0.05,
                shift,
                bookings,
                load: rng.below(8) as u32,
            }
        })
        .collect()
}

fn needs(rng: &mut Rng, cities: &[(f64, f64)]) -> Vec<Need> {
    (0..256)
        .map(|_| Need {
            position: {
                let city = cities[rng.below(cities.len() as u64) as usize];
                near(rng, city, 15.0)
            },
            window: monday(9 + rng.below(7) as u32, 2),
            skills: vec![PRODUCT_LINES[rng.below(12) as usize].to_owned()],
            min_tier: 2,
            max_distance_km: 100.0,
            limit: 5,
            max_load: 6,
            slip: None,
        })
        .collect()
}

fn layout(c: &mut Criterion, name: &str, city_count: usize, lat_span: f64, lon_span: f64) {
    let mut rng = Rng(0x0d15_9a7c);
    let cities = cities(&mut rng, city_count, lat_span, lon_span);
    let queries = needs(&mut rng, &cities);
    let mut group = c.benchmark_group(format!("nearest_suitable_{name}"));
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30);
    for n in [1_000, 10_000, 100_000] {
        let index = EngineerIndex::build(Tz::UTC, engineers(n, &mut rng, &cities));
        // Same answers, or the comparison would mean nothing.
        for q in &queries[..16] {
            assert_eq!(index.suggest(q), index.suggest_by_scan(q));
        }
        let mut i = 0;
        group.bench_with_input(BenchmarkId::new("rtree", n), &index, |b, index| {
            b.iter(|| {
                i = (i + 1) % queries.len();
                black_box(index.suggest(&queries[i]))
            })
        });
        group.bench_with_input(BenchmarkId::new("scan", n), &index, |b, index| {
            b.iter(|| {
                i = (i + 1) % queries.len();
                black_box(index.suggest_by_scan(&queries[i]))
            })
        });
    }
    group.finish();
}

fn nearest_suitable(c: &mut Criterion) {
    layout(c, "national", 300, 25.0, 25.0);
    layout(c, "dense", 40, 18.0, 12.0);
}

criterion_group!(benches, nearest_suitable);
criterion_main!(benches);
