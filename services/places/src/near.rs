//! Places near a resident, on the same H3 engine as reports and schools: the cells covering a
//! circle, read from an index, then the exact distance; with whether each is open now in
//! Vietnam's time.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use platform::ApiError;
use platform::error::SharedError;
use platform::extract::QueryParams;
use platform::geo::NearCells;
use platform::text::Text;
use platform::vietnam_time::OFFSET;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::opening::Hours;
use crate::{PlacesError, PlacesState};

pub const LAYERS: &[&str] = &[
    "toilets",
    "wifi",
    "parking",
    "motorbike_parking",
    "heritage",
    "camera",
];
const DEFAULT_RADIUS_M: f64 = 1_000.0;
const MAX_RADIUS_M: f64 = 10_000.0;
const MAX_RESULTS: usize = 50;
/// Rows read for one answer, nearest first by a flat-earth distance; the exact distance then
/// picks the answer from them.
const CANDIDATES: i64 = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NearQuery {
    /// `toilets`, `wifi` (free), `parking`, `motorbike_parking`, `heritage` or `camera`.
    layer: String,
    lat: f64,
    lng: f64,
    /// Up to 10,000; 1,000 by default.
    radius_m: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlacesNear {
    /// Nearest first, at most 50.
    places: Vec<PlaceView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlaceView {
    id: String,
    layer: String,
    /// The place's own name, or what it is when it has none.
    name: Text,
    lat: f64,
    lng: f64,
    distance_m: Option<f64>,
    /// OpenStreetMap's `opening_hours`, as mapped.
    opening_hours: Option<String>,
    /// Open now, in Vietnam's time and holidays; absent when its hours are not known.
    open_now: Option<bool>,
    /// When it opens or closes next.
    next_change: Option<DateTime<FixedOffset>>,
    /// Fee, capacity, wheelchair access, Wi-Fi name, a camera's `snapshot_url`, a heritage
    /// site's `guide_vi` and `guide_en`...
    #[schema(value_type = Object)]
    details: Value,
}

struct Row {
    id: String,
    layer: String,
    name_vi: Option<String>,
    name_en: Option<String>,
    latitude: f64,
    longitude: f64,
    opening_hours: Option<String>,
    details: Value,
}

impl Row {
    fn view(self, hours: &Hours, now: NaiveDateTime, from: Option<(f64, f64)>) -> PlaceView {
        let state = self
            .opening_hours
            .as_deref()
            .and_then(|raw| hours.at(raw, now));
        let (generic_vi, generic_en) = generic_name(&self.layer);
        let name = Text::new(
            self.name_vi.as_deref().unwrap_or(generic_vi),
            self.name_en
                .as_deref()
                .or(self.name_vi.as_deref())
                .unwrap_or(generic_en),
        );
        PlaceView {
            distance_m: from.map(|(lat, lng)| {
                platform::geo::distance_m(lat, lng, self.latitude, self.longitude).round()
            }),
            id: self.id,
            layer: self.layer,
            name,
            lat: self.latitude,
            lng: self.longitude,
            opening_hours: self.opening_hours,
            open_now: state.and_then(|s| s.open),
            next_change: state
                .and_then(|s| s.next_change)
                .and_then(|t| t.and_local_timezone(OFFSET).single()),
            details: self.details,
        }
    }
}

fn generic_name(layer: &str) -> (&'static str, &'static str) {
    match layer {
        "toilets" => ("Nhà vệ sinh công cộng", "Public toilet"),
        "wifi" => ("Điểm Wi-Fi miễn phí", "Free Wi-Fi"),
        "parking" => ("Bãi đỗ xe ô tô", "Car park"),
        "motorbike_parking" => ("Bãi giữ xe máy", "Motorbike parking"),
        "heritage" => ("Di tích", "Heritage site"),
        _ => ("Camera giao thông", "Traffic camera"),
    }
}

/// Places of one kind near a point, nearest first.
#[utoipa::path(get, path = "/v1/places", operation_id = "places_near", tag = "places",
    params(NearQuery),
    responses((status = 200, body = PlacesNear),
        (status = 400, description = "`invalid_query`: a radius past 10 km", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_position`, `unknown_place_layer`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn near(
    State(state): State<PlacesState>,
    QueryParams(query): QueryParams<NearQuery>,
) -> Result<Json<PlacesNear>, ApiError> {
    if !LAYERS.contains(&query.layer.as_str()) {
        return Err(PlacesError::UnknownPlaceLayer.into());
    }
    let radius = platform::geo::radius(query.radius_m, DEFAULT_RADIUS_M, MAX_RADIUS_M)?;
    let places = nearest(
        &state.pool,
        &state.hours,
        &query.layer,
        query.lat,
        query.lng,
        radius,
    )
    .await?
    .ok_or(SharedError::InvalidPosition)?;
    Ok(Json(PlacesNear { places }))
}

/// One place.
#[utoipa::path(get, path = "/v1/places/{id}", operation_id = "get_place", tag = "places",
    params(("id" = String, Path)),
    responses((status = 200, body = PlaceView),
        (status = 404, description = "`place_not_found`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<PlacesState>,
    Path(id): Path<String>,
) -> Result<Json<PlaceView>, ApiError> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT id, layer, name_vi, name_en, latitude, longitude, opening_hours, details
           FROM places WHERE id = $1"#,
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(PlacesError::PlaceNotFound)?;
    let now = Utc::now().with_timezone(&OFFSET).naive_local();
    Ok(Json(row.view(&state.hours, now, None)))
}

/// The places of `layer` within `radius_m` of a point, nearest first, at most 50, with their
/// hours evaluated now; `None` for a position off the earth.
pub async fn nearest(
    pool: &sqlx::PgPool,
    hours: &Hours,
    layer: &str,
    lat: f64,
    lng: f64,
    radius: f64,
) -> Result<Option<Vec<PlaceView>>, sqlx::Error> {
    let Some(cells) = NearCells::around(lat, lng, radius) else {
        return Ok(None);
    };
    // The nearest candidates by a flat-earth distance, which orders points as the true one does
    // at a city's scale: a dense city answers from a bounded number of rows.
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, layer, name_vi, name_en, latitude, longitude, opening_hours, details
           FROM places
           WHERE layer = $1 AND (cell = ANY($2) OR coarse_cell = ANY($3))
           ORDER BY (latitude - $4) ^ 2 + ((longitude - $5) * cos(radians($4))) ^ 2
           LIMIT $6"#,
        layer,
        &cells.fine,
        &cells.coarse,
        lat,
        lng,
        CANDIDATES
    )
    .fetch_all(pool)
    .await?;
    let mut nearest: Vec<(f64, Row)> = rows
        .into_iter()
        .map(|row| {
            let distance = platform::geo::distance_m(lat, lng, row.latitude, row.longitude);
            (distance, row)
        })
        .filter(|(distance, _)| *distance <= radius)
        .collect();
    nearest.sort_by(|a, b| a.0.total_cmp(&b.0));
    nearest.truncate(MAX_RESULTS);
    // Opening hours are evaluated for the places answered only.
    let now = Utc::now().with_timezone(&OFFSET).naive_local();
    let from = Some((lat, lng));
    let places: Vec<PlaceView> = nearest
        .into_iter()
        .map(|(_, row)| row.view(hours, now, from))
        .collect();
    Ok(Some(places))
}
