//! Travel estimates. A road-routing engine plugs in behind [`TravelTime`]; until one is
//! configured, estimates are straight-line and say so.

use std::time::Duration;

use onsite_core::geo::GeoPoint;

/// How an estimate was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Geodesic distance at an assumed average speed; not a road route.
    StraightLine,
    /// A road-routing engine.
    Road,
}

/// An estimated journey.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub duration: Duration,
    pub method: Method,
}

/// Estimates how long an engineer needs from `from` to `to`.
pub trait TravelTime: Send + Sync + std::fmt::Debug {
    /// `distance_km` is the geodesic distance, already known to the caller.
    fn estimate(&self, from: GeoPoint, to: GeoPoint, distance_km: f64) -> Estimate;
}

/// Straight-line distance at an average speed.
#[derive(Clone, Copy, Debug)]
pub struct StraightLine {
    pub km_per_hour: f64,
}

impl Default for StraightLine {
    /// 40 km/h: mixed city and ring-road driving.
    fn default() -> Self {
        Self { km_per_hour: 40.0 }
    }
}

impl TravelTime for StraightLine {
    fn estimate(&self, _from: GeoPoint, _to: GeoPoint, distance_km: f64) -> Estimate {
        let hours = (distance_km / self.km_per_hour.max(1.0)).max(0.0);
        Estimate { duration: Duration::from_secs_f64(hours * 3600.0), method: Method::StraightLine }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straight_line_is_distance_over_speed() {
        let p = GeoPoint::new(31.2, 121.5, "p").unwrap_or_else(|e| panic!("{e:?}"));
        let e = StraightLine::default().estimate(p, p, 20.0);
        assert_eq!(e.duration, Duration::from_secs(30 * 60));
        assert_eq!(e.method, Method::StraightLine);
    }
}
