//! Positions on the earth.

use crate::error::FieldViolation;

/// A validated WGS-84 position in degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoPoint {
    latitude: f64,
    longitude: f64,
}

impl GeoPoint {
    /// Validates latitude in [-90, 90] and longitude in [-180, 180]; `field` prefixes the path.
    pub fn new(latitude: f64, longitude: f64, field: &str) -> Result<Self, FieldViolation> {
        if !latitude.is_finite() || !(-90.0..=90.0).contains(&latitude) {
            return Err(FieldViolation::new(
                format!("{field}.latitude"),
                "must be a number of degrees between -90 and 90",
            ));
        }
        if !longitude.is_finite() || !(-180.0..=180.0).contains(&longitude) {
            return Err(FieldViolation::new(
                format!("{field}.longitude"),
                "must be a number of degrees between -180 and 180",
            ));
        }
        Ok(Self { latitude, longitude })
    }

    /// Degrees north.
    pub fn latitude(&self) -> f64 {
        self.latitude
    }

    /// Degrees east.
    pub fn longitude(&self) -> f64 {
        self.longitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_out_of_range_and_nan() {
        assert!(GeoPoint::new(31.2, 121.5, "p").is_ok());
        assert_eq!(
            GeoPoint::new(91.0, 0.0, "site.position").err().map(|e| e.field),
            Some("site.position.latitude".to_owned())
        );
        assert_eq!(GeoPoint::new(0.0, f64::NAN, "p").err().map(|e| e.field), Some("p.longitude".to_owned()));
    }
}
