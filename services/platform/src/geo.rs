//! The near-me engine every service shares: H3 cells as PostgreSQL stores them (a signed
//! 64-bit integer per cell), and the res-9 cells a circle covers, which a query looks up by
//! index before measuring the exact distance.

use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{LatLng, Resolution};

/// A position on the earth: finite, latitude within ±90°, longitude within ±180°.
pub fn valid_position(latitude: f64, longitude: f64) -> bool {
    (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude)
}

/// A position asked with optional `lat` and `lng`: both or neither, and a position when given
/// (422 `invalid_position` otherwise).
pub fn optional_position(
    latitude: Option<f64>,
    longitude: Option<f64>,
) -> Result<Option<(f64, f64)>, crate::ApiError> {
    match (latitude, longitude) {
        (Some(lat), Some(lng)) if valid_position(lat, lng) => Ok(Some((lat, lng))),
        (None, None) => Ok(None),
        _ => Err(crate::error::SharedError::InvalidPosition.into()),
    }
}

/// The radius a near-me query asked for, `default_m` when it asked none: 400 `invalid_query`
/// outside 1 m to `max_m`, never quietly cut to the limit.
pub fn radius(asked_m: Option<f64>, default_m: f64, max_m: f64) -> Result<f64, crate::ApiError> {
    let radius = asked_m.unwrap_or(default_m);
    if !(1.0..=max_m).contains(&radius) {
        return Err(crate::error::SharedError::InvalidQuery {
            reason: format!("radius_m must be between 1 and {max_m}"),
        }
        .into());
    }
    Ok(radius)
}

/// Past this radius a near-me query reads res-7 cells, which cover the circle in far fewer.
pub const COARSE_FROM_M: f64 = 1_000.0;

/// The cells a near-me query reads for every point within a circle, for a table that stores
/// each row's res-9 and res-7 cell: one of the two lists is empty, so the plan ORs a scan of
/// each index.
pub struct NearCells {
    pub fine: Vec<i64>,
    pub coarse: Vec<i64>,
}

impl NearCells {
    /// `None` for a position off the earth.
    pub fn around(latitude: f64, longitude: f64, radius_m: f64) -> Option<NearCells> {
        if radius_m > COARSE_FROM_M {
            let coarse = cells_within_at(latitude, longitude, radius_m, Resolution::Seven)?;
            Some(NearCells {
                fine: Vec::new(),
                coarse,
            })
        } else {
            let fine = cells_within_at(latitude, longitude, radius_m, Resolution::Nine)?;
            Some(NearCells {
                fine,
                coarse: Vec::new(),
            })
        }
    }
}

/// The great-circle distance in metres, which a near-me answer measures exactly after the cells
/// found the candidates.
pub fn distance_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// An H3 cell as PostgreSQL stores it (a signed 64-bit integer).
pub fn cell_at(latitude: f64, longitude: f64, resolution: Resolution) -> Option<i64> {
    if !valid_position(latitude, longitude) {
        return None;
    }
    let cell = LatLng::new(latitude, longitude).ok()?.to_cell(resolution);
    Some(u64::from(cell) as i64)
}

/// The res-9 cells (as stored) that hold every point within `radius_m` of a position: the H3
/// cover of a polygon drawn around the circle.
pub fn cells_within(latitude: f64, longitude: f64, radius_m: f64) -> Option<Vec<i64>> {
    cells_within_at(latitude, longitude, radius_m, Resolution::Nine)
}

/// The cells of `resolution` that hold every point within `radius_m` of a position: a coarser
/// resolution for a wide circle keeps the cover to a few cells.
pub fn cells_within_at(
    latitude: f64,
    longitude: f64,
    radius_m: f64,
    resolution: Resolution,
) -> Option<Vec<i64>> {
    const SIDES: usize = 32;
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    if !valid_position(latitude, longitude) {
        return None;
    }
    // The polygon's sides touch the circle from outside, so it holds the whole circle; the
    // centimetre keeps rounding from nibbling at the edge.
    let reach = radius_m / (std::f64::consts::PI / SIDES as f64).cos() + 0.01;
    let dlat = (reach / EARTH_RADIUS_M).to_degrees();
    let dlng = dlat / latitude.to_radians().cos();
    let ring: Vec<(f64, f64)> = (0..=SIDES)
        .map(|i| {
            let angle = 2.0 * std::f64::consts::PI * (i % SIDES) as f64 / SIDES as f64;
            (
                longitude + dlng * angle.cos(),
                latitude + dlat * angle.sin(),
            )
        })
        .collect();
    let mut tiler = TilerBuilder::new(resolution)
        .containment_mode(ContainmentMode::Covers)
        .build();
    tiler
        .add(geo::Polygon::new(geo::LineString::from(ring), Vec::new()))
        .ok()?;
    Some(
        tiler
            .into_coverage()
            .map(|cell| u64::from(cell) as i64)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every point within the radius, in every direction, is in one of the cells.
    #[test]
    fn positions_off_the_earth_have_no_cells() {
        assert!(cells_within(91.0, 107.0, 100.0).is_none());
        assert!(cells_within(16.0, 181.0, 100.0).is_none());
        assert!(cells_within(f64::NAN, 107.0, 100.0).is_none());
        assert!(cell_at(-90.5, 0.0, Resolution::Nine).is_none());
        assert!(cell_at(16.46, 107.59, Resolution::Nine).is_some());
    }

    #[test]
    fn the_cells_cover_the_whole_circle() {
        for (lat, lng, radius) in [
            (16.4637, 107.5909, 50.0),
            (16.5, 107.6, 500.0),
            (10.77, 106.7, 2000.0),
        ] {
            let cells = cells_within(lat, lng, radius).unwrap();
            for step in 0..360 {
                let angle = (step as f64).to_radians();
                for fraction in [0.25, 0.5, 0.99, 1.0] {
                    let d = radius * fraction / 6_371_008.8;
                    let point = (
                        lat + d.to_degrees() * angle.sin(),
                        lng + d.to_degrees() * angle.cos() / lat.to_radians().cos(),
                    );
                    let cell = cell_at(point.0, point.1, Resolution::Nine).unwrap();
                    assert!(cells.contains(&cell), "{radius} m at {step}°");
                }
            }
            // And not many more: the circle's area in ~0.1 km² cells, plus its rim.
            let circle_cells = std::f64::consts::PI * radius * radius / 105_000.0;
            assert!(
                (cells.len() as f64) < circle_cells * 1.5 + 40.0,
                "{} cells for {radius} m",
                cells.len()
            );
        }
    }
}
