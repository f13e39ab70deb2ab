//! Which ward a point is in. Each ward's boundary is covered by H3 cells once (when its
//! jurisdiction's boundaries change): a point in a cell wholly inside one ward is answered by a
//! hash lookup; only a point in a cell crossing a border gets an exact point-in-polygon test
//! against the few wards that cell touches.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use axum::Json;
use axum::extract::State;
use geo::{Intersects, MultiPolygon, Point};
use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, LatLng, Resolution};
use platform::ApiError;
use platform::extract::JsonBody;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::domain::ReportsError;
use crate::domain::ReportsState;
use crate::domain::jurisdiction::GeoJsonGeometry;

/// The resolution of the ward cover (~0.1 km² cells): fine enough that few cells cross a
/// border, coarse enough that a city is a few thousand cells.
pub const COVER_RESOLUTION: Resolution = Resolution::Nine;

enum Cover {
    /// The cell lies wholly inside this ward.
    Inside(usize),
    /// The cell crosses the borders of these wards.
    Border(Vec<usize>),
}

pub struct WardIndex {
    pub jurisdiction: String,
    version: i64,
    /// Ward ids and shapes, sorted by id: on a shared border the first ward wins.
    wards: Vec<(String, MultiPolygon<f64>)>,
    cells: HashMap<CellIndex, Cover>,
}

impl WardIndex {
    pub fn build(
        jurisdiction: String,
        version: i64,
        mut wards: Vec<(String, GeoJsonGeometry)>,
    ) -> anyhow::Result<WardIndex> {
        wards.sort_by(|a, b| a.0.cmp(&b.0));
        let wards: Vec<(String, MultiPolygon<f64>)> = wards
            .into_iter()
            .map(|(id, boundary)| (id, boundary.to_geo()))
            .collect();
        let mut cells: HashMap<CellIndex, Cover> = HashMap::new();
        for (index, (id, shape)) in wards.iter().enumerate() {
            let mut tiler = TilerBuilder::new(COVER_RESOLUTION)
                .containment_mode(ContainmentMode::Covers)
                .build();
            for polygon in shape {
                tiler
                    .add(polygon.clone())
                    .map_err(|error| anyhow::anyhow!("ward {id}: {error}"))?;
            }
            for annotated in tiler.into_annotated_coverage() {
                let cover = match cells.remove(&annotated.cell) {
                    None if annotated.is_fully_contained => Cover::Inside(index),
                    None => Cover::Border(vec![index]),
                    // A cell two wards claim crosses the border between them.
                    Some(Cover::Inside(other)) => Cover::Border(vec![other, index]),
                    Some(Cover::Border(mut others)) => {
                        others.push(index);
                        Cover::Border(others)
                    }
                };
                cells.insert(annotated.cell, cover);
            }
        }
        Ok(WardIndex {
            jurisdiction,
            version,
            wards,
            cells,
        })
    }

    /// The ward `lat`/`lng` is in (on a shared border, the one whose id sorts first).
    pub fn locate(&self, latitude: f64, longitude: f64) -> Option<&str> {
        let cell = LatLng::new(latitude, longitude)
            .ok()?
            .to_cell(COVER_RESOLUTION);
        let index = match self.cells.get(&cell)? {
            Cover::Inside(index) => *index,
            Cover::Border(candidates) => {
                let point = Point::new(longitude, latitude);
                // Wards are in id order; `intersects` counts the boundary as inside.
                candidates
                    .iter()
                    .copied()
                    .filter(|i| self.wards[*i].1.intersects(&point))
                    .min()?
            }
        };
        Some(self.wards[index].0.as_str())
    }
}

impl WardIndex {
    /// The cells covering `wards`; the first id that is no ward here is the error.
    pub fn cells_of<'a>(&self, wards: &'a [String]) -> Result<Vec<CellIndex>, &'a str> {
        let mut chosen = HashSet::new();
        for id in wards {
            let index = self
                .wards
                .binary_search_by(|(ward, _)| ward.as_str().cmp(id))
                .map_err(|_| id.as_str())?;
            chosen.insert(index);
        }
        Ok(self
            .cells
            .iter()
            .filter(|(_, cover)| match cover {
                Cover::Inside(index) => chosen.contains(index),
                Cover::Border(indexes) => indexes.iter().any(|i| chosen.contains(i)),
            })
            .map(|(cell, _)| *cell)
            .collect())
    }

    /// Whether a res-9 cell lies at least partly inside one of the wards.
    pub fn covers(&self, cell: CellIndex) -> bool {
        self.cells.contains_key(&cell)
    }

    /// The wards sharing at least one cover cell with `cells` (of the cover's resolution).
    pub fn wards_touching(&self, cells: &[CellIndex]) -> Vec<String> {
        let mut touched = BTreeSet::new();
        for cell in cells {
            match self.cells.get(cell) {
                Some(Cover::Inside(index)) => {
                    touched.insert(*index);
                }
                Some(Cover::Border(indexes)) => touched.extend(indexes.iter().copied()),
                None => {}
            }
        }
        touched
            .into_iter()
            .map(|index| self.wards[index].0.clone())
            .collect()
    }
}

/// Ward indexes of every jurisdiction, rebuilt when an import bumps its boundaries version.
#[derive(Default)]
pub struct WardIndexes {
    by_jurisdiction: RwLock<HashMap<String, Arc<WardIndex>>>,
    /// One rebuild at a time: requests arriving together wait for it rather than each
    /// covering the city with cells again.
    rebuilding: tokio::sync::Mutex<()>,
}

impl WardIndexes {
    /// The current indexes, by jurisdiction id: one small query to learn the versions, and a
    /// rebuild of any index that changed since (rare: boundaries change by import). The order
    /// is stable, never the table's physical one: jurisdictions share borders but no area, and
    /// a point on a shared border goes to the jurisdiction whose id sorts first.
    pub async fn current(&self, pool: &PgPool) -> anyhow::Result<Vec<Arc<WardIndex>>> {
        let versions =
            sqlx::query!(r#"SELECT id, boundaries_version FROM jurisdictions ORDER BY id"#)
                .fetch_all(pool)
                .await?;
        let mut current = Vec::with_capacity(versions.len());
        for row in versions {
            let cached = self
                .get(&row.id)
                .filter(|i| i.version == row.boundaries_version);
            let index = match cached {
                Some(index) => index,
                None => {
                    let _rebuilding = self.rebuilding.lock().await;
                    let fresh = self
                        .get(&row.id)
                        .filter(|i| i.version == row.boundaries_version);
                    if let Some(index) = fresh {
                        current.push(index);
                        continue;
                    }
                    let index = Arc::new(load(pool, row.id.clone(), row.boundaries_version).await?);
                    self.by_jurisdiction
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(row.id, index.clone());
                    index
                }
            };
            current.push(index);
        }
        Ok(current)
    }

    fn get(&self, jurisdiction: &str) -> Option<Arc<WardIndex>> {
        self.by_jurisdiction
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(jurisdiction)
            .cloned()
    }
}

/// Most ward ids one lookup may name.
const MAX_LOOKUP: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WardLookup {
    wards: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct FoundWard {
    jurisdiction: String,
    ward: String,
}

#[derive(Debug, Serialize)]
pub struct FoundWards {
    wards: Vec<FoundWard>,
}

/// Every (jurisdiction, ward) whose ward id is one of those given: identity checks a resident's
/// home ward with it (ward ids are unique within a jurisdiction, not across them).
pub async fn internal_find(
    State(state): State<ReportsState>,
    JsonBody(lookup): JsonBody<WardLookup>,
) -> Result<Json<FoundWards>, ApiError> {
    if lookup.wards.len() > MAX_LOOKUP {
        return Err(ReportsError::TooManyWards { max: MAX_LOOKUP }.into());
    }
    let wards = sqlx::query_as!(
        FoundWard,
        r#"SELECT jurisdiction_id AS jurisdiction, id AS ward FROM wards
           WHERE id = ANY($1) ORDER BY jurisdiction_id, id"#,
        &lookup.wards
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(FoundWards { wards }))
}

#[derive(Debug, Serialize)]
pub struct Departments {
    departments: Vec<crate::domain::jurisdiction::Department>,
}

/// A jurisdiction's departments, by id, with their names: community lists them to residents
/// asking the government a question, and checks the one asked. 404 for no such jurisdiction.
pub async fn internal_departments(
    State(state): State<ReportsState>,
    axum::extract::Path(jurisdiction): axum::extract::Path<String>,
) -> Result<Json<Departments>, ApiError> {
    let departments = sqlx::query_as!(
        crate::domain::jurisdiction::Department,
        r#"SELECT id, name_vi, name_en FROM departments WHERE jurisdiction_id = $1 ORDER BY id"#,
        jurisdiction
    )
    .fetch_all(&state.pool)
    .await?;
    if departments.is_empty() {
        return Err(ApiError::jurisdiction_not_found());
    }
    Ok(Json(Departments { departments }))
}

async fn load(pool: &PgPool, jurisdiction: String, version: i64) -> anyhow::Result<WardIndex> {
    let rows = sqlx::query!(
        r#"SELECT id, boundary FROM wards WHERE jurisdiction_id = $1"#,
        jurisdiction
    )
    .fetch_all(pool)
    .await?;
    let wards = rows
        .into_iter()
        .map(|row| Ok((row.id, serde_json::from_value(row.boundary)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Covering a city's wards with cells is CPU work: off the async threads.
    tokio::task::spawn_blocking(move || WardIndex::build(jurisdiction, version, wards)).await?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::jurisdiction::GeoJsonPosition;

    fn square(west: f64, south: f64, east: f64, north: f64) -> Vec<GeoJsonPosition> {
        [
            [west, south],
            [east, south],
            [east, north],
            [west, north],
            [west, south],
        ]
        .map(GeoJsonPosition)
        .to_vec()
    }

    /// Two wards side by side; the western one has a hole filled by a third.
    fn index() -> WardIndex {
        let west = GeoJsonGeometry::Polygon(vec![
            square(107.50, 16.40, 107.55, 16.45),
            square(107.52, 16.42, 107.53, 16.43)
                .into_iter()
                .rev()
                .collect(),
        ]);
        let east = GeoJsonGeometry::Polygon(vec![square(107.55, 16.40, 107.60, 16.45)]);
        let hole = GeoJsonGeometry::Polygon(vec![square(107.52, 16.42, 107.53, 16.43)]);
        WardIndex::build(
            "test".into(),
            1,
            vec![
                ("west".into(), west),
                ("east".into(), east),
                ("hole".into(), hole),
            ],
        )
        .unwrap()
    }

    #[test]
    fn points_inside_outside_on_a_border_and_in_a_hole() {
        let index = index();
        assert_eq!(index.locate(16.41, 107.51), Some("west"));
        assert_eq!(index.locate(16.41, 107.59), Some("east"));
        assert_eq!(index.locate(16.425, 107.525), Some("hole"));
        assert_eq!(index.locate(16.46, 107.51), None);
        assert_eq!(index.locate(16.41, 107.61), None);
        // On the shared border both wards hold the point; the first by id answers.
        assert_eq!(index.locate(16.425, 107.55), Some("east"));
        // Just off the border, each side gets its own ward.
        assert_eq!(index.locate(16.425, 107.549_99), Some("west"));
        assert_eq!(index.locate(16.425, 107.550_01), Some("east"));
    }
}
