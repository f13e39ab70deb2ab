//! Where reports are: the coarsened position the public sees of a private one. H3 cells and
//! near-me circles are `platform::geo`'s.

use h3o::{CellIndex, LatLng, Resolution};

/// The centre of the cell `latitude`/`longitude` is in: where the public sees a report whose
/// exact position is private.
pub fn coarsened(latitude: f64, longitude: f64) -> Option<(f64, f64)> {
    let cell: CellIndex = LatLng::new(latitude, longitude)
        .ok()?
        .to_cell(Resolution::Eight);
    let centre = LatLng::from(cell);
    Some((centre.lat(), centre.lng()))
}
