//! Areas the city warns: a set of wards, a GeoJSON polygon or H3 cells, resolved to the res-9
//! cells they cover within the jurisdiction and the wards they touch. Notifications asks, to
//! find the residents inside (by the cell of their last report, or by their home ward).

use axum::Json;
use axum::extract::State;
use geo::ChamberlainDuquetteArea;
use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, Resolution};
use platform::ApiError;
use platform::error::SharedError;
use platform::extract::JsonBody;
use serde::{Deserialize, Serialize};

use crate::domain::ReportsState;
use crate::domain::jurisdiction::{GeoJsonGeometry, is_valid_shape};
use crate::domain::wards::{COVER_RESOLUTION, WardIndex};

/// The most res-9 cells an area may cover (about 21,000 km²: a province).
const MAX_CELLS: usize = 200_000;
/// Area of a res-9 cell, on average, in m².
const CELL_AREA_M2: f64 = 105_332.5;
/// The most wards, listed cells or polygon vertices a request may hold.
const MAX_LISTED: usize = 10_000;

/// Where: exactly one of the three.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Area {
    /// Ward ids of the jurisdiction.
    Wards(Vec<String>),
    /// A GeoJSON `Polygon` or `MultiPolygon` (`[longitude, latitude]` positions).
    #[schema(value_type = Object)]
    Polygon(GeoJsonGeometry),
    /// H3 cell indexes as hexadecimal strings, resolution 5 to 15.
    Cells(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaRequest {
    jurisdiction: String,
    area: Area,
}

#[derive(Debug, Serialize)]
pub struct ResolvedArea {
    /// The wards the area touches, by id.
    wards: Vec<String>,
    /// The res-9 cells covering the area, as reports store them.
    cells: Vec<i64>,
}

/// Resolves an area of a jurisdiction (notifications' call).
pub async fn internal_resolve(
    State(state): State<ReportsState>,
    JsonBody(request): JsonBody<AreaRequest>,
) -> Result<Json<ResolvedArea>, ApiError> {
    let index = state
        .wards
        .current(&state.pool)
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .find(|index| index.jurisdiction == request.jurisdiction)
        .ok_or_else(ApiError::jurisdiction_not_found)?;
    let (mut wards, cells) = match request.area {
        Area::Wards(mut ids) => {
            ids.sort();
            ids.dedup();
            if ids.is_empty() || ids.len() > MAX_LISTED {
                return Err(SharedError::InvalidArea.into());
            }
            let cells = index
                .cells_of(&ids)
                .map_err(|unknown| SharedError::UnknownWard {
                    ward: unknown.to_string(),
                })?;
            (ids, cells)
        }
        Area::Polygon(geometry) => {
            let cells = within_jurisdiction(&index, polygon_cells(&geometry)?)?;
            (index.wards_touching(&cells), cells)
        }
        Area::Cells(listed) => {
            let cells = within_jurisdiction(&index, listed_cells(&listed)?)?;
            (index.wards_touching(&cells), cells)
        }
    };
    wards.sort();
    Ok(Json(ResolvedArea {
        wards,
        cells: cells.into_iter().map(|c| u64::from(c) as i64).collect(),
    }))
}

/// The part of an area inside the jurisdiction's wards: a warning never reaches past the
/// caller's jurisdiction. An area wholly outside it is refused.
fn within_jurisdiction(
    index: &WardIndex,
    mut cells: Vec<CellIndex>,
) -> Result<Vec<CellIndex>, ApiError> {
    cells.retain(|cell| index.covers(*cell));
    if cells.is_empty() {
        return Err(SharedError::AreaOutsideJurisdiction.into());
    }
    Ok(cells)
}

/// The res-9 cells covering a polygon.
fn polygon_cells(geometry: &GeoJsonGeometry) -> Result<Vec<CellIndex>, ApiError> {
    if geometry.vertices() > MAX_LISTED {
        return Err(SharedError::InvalidArea.into());
    }
    let shape = geometry.to_geo();
    if !is_valid_shape(&shape) {
        return Err(SharedError::InvalidArea.into());
    }
    // Refused before tiling, so a continent costs nothing.
    if shape.chamberlain_duquette_unsigned_area() > MAX_CELLS as f64 * CELL_AREA_M2 {
        return Err(SharedError::AreaTooLarge.into());
    }
    let mut tiler = TilerBuilder::new(COVER_RESOLUTION)
        .containment_mode(ContainmentMode::Covers)
        .build();
    for polygon in shape {
        tiler.add(polygon).map_err(|_| SharedError::InvalidArea)?;
    }
    let cells: Vec<CellIndex> = tiler.into_coverage().collect();
    if cells.len() > MAX_CELLS {
        return Err(SharedError::AreaTooLarge.into());
    }
    Ok(cells)
}

/// Listed cells at res 9: coarser ones by their children, finer ones by their parent.
fn listed_cells(listed: &[String]) -> Result<Vec<CellIndex>, ApiError> {
    if listed.is_empty() || listed.len() > MAX_LISTED {
        return Err(SharedError::InvalidArea.into());
    }
    let mut parsed = Vec::with_capacity(listed.len());
    let mut count: u64 = 0;
    for text in listed {
        let cell: CellIndex = text
            .parse()
            .ok()
            .filter(|c: &CellIndex| c.resolution() >= Resolution::Five)
            .ok_or(SharedError::InvalidArea)?;
        count += cell.children_count(COVER_RESOLUTION).max(1);
        if count > MAX_CELLS as u64 {
            return Err(SharedError::AreaTooLarge.into());
        }
        parsed.push(cell);
    }
    let mut cells: Vec<CellIndex> = parsed
        .into_iter()
        .flat_map(|cell| -> Box<dyn Iterator<Item = CellIndex>> {
            match cell.parent(COVER_RESOLUTION) {
                Some(parent) if cell.resolution() > COVER_RESOLUTION => {
                    Box::new(std::iter::once(parent))
                }
                _ => Box::new(cell.children(COVER_RESOLUTION)),
            }
        })
        .collect();
    cells.sort_unstable();
    cells.dedup();
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::jurisdiction::GeoJsonPosition;
    use h3o::LatLng;

    #[test]
    fn cells_of_any_resolution_become_res_9() {
        let point = LatLng::new(16.4637, 107.5909).unwrap();
        let coarse = point.to_cell(Resolution::Seven);
        let fine = point.to_cell(Resolution::Eleven);
        let cells = listed_cells(&[coarse.to_string(), fine.to_string()]).unwrap();
        // The res-7 cell's 49 children; the res-11 cell's parent is one of them.
        assert_eq!(cells.len(), 49);
        assert!(cells.contains(&point.to_cell(Resolution::Nine)));
        assert!(cells.iter().all(|c| c.resolution() == Resolution::Nine));

        assert!(listed_cells(&["not-a-cell".into()]).is_err());
        let too_coarse = point.to_cell(Resolution::Four).to_string();
        assert!(listed_cells(&[too_coarse]).is_err());
    }

    #[test]
    fn polygons_are_covered_and_bounded() {
        let square = |size: f64| {
            GeoJsonGeometry::Polygon(vec![
                [
                    [107.58, 16.46],
                    [107.58 + size, 16.46],
                    [107.58 + size, 16.46 + size],
                    [107.58, 16.46 + size],
                    [107.58, 16.46],
                ]
                .map(GeoJsonPosition)
                .to_vec(),
            ])
        };
        // About 1.1 km a side: a dozen or so res-9 cells.
        let cells = polygon_cells(&square(0.01)).unwrap();
        assert!((10..40).contains(&cells.len()), "{}", cells.len());
        // A square 2 degrees a side (about 47,000 km²) is too large.
        assert_eq!(
            polygon_cells(&square(2.0)).unwrap_err().code(),
            "area_too_large"
        );
        // A bow tie is not a polygon.
        let bow_tie = GeoJsonGeometry::Polygon(vec![
            [
                [107.58, 16.46],
                [107.59, 16.47],
                [107.59, 16.46],
                [107.58, 16.47],
                [107.58, 16.46],
            ]
            .map(GeoJsonPosition)
            .to_vec(),
        ]);
        assert_eq!(polygon_cells(&bow_tie).unwrap_err().code(), "invalid_area");
    }
}
