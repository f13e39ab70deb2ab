//! Planning lookup: the zoning at a point (zone code, permitted land use, building coverage,
//! floors, height and land-use coefficient, and the decision that approved it), from the
//! GeoJSON layers (RFC 7946) the Department of Construction publishes, which the city imports
//! here: each layer is read again when its `ETag` changes and replaced whole, or not at all
//! when the file is broken (the refusal is kept for operators).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use bytes::Bytes;
use geo::{Contains, Coord, LineString, MultiPolygon, Point, Polygon};
use http::{Request, StatusCode, header};
use http_body_util::Full;
use platform::ApiError;
use platform::error::SharedError;
use platform::extract::QueryParams;
use platform::jobs::{Jobs, lead};
use platform::outbound::{Limits, OutboundClient};
use platform::text::Text;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AdministrationState;

/// The largest layer read.
const MAX_LAYER_BYTES: usize = 64 * 1024 * 1024;
/// Zones a layer may hold.
const MAX_ZONES: usize = 200_000;
/// Positions a zone's outline may have.
const MAX_POSITIONS: usize = 100_000;

#[derive(Deserialize)]
struct FeatureCollection {
    features: Vec<Feature>,
}

#[derive(Deserialize)]
struct Feature {
    geometry: Geometry,
    properties: Properties,
}

#[derive(Deserialize, Serialize)]
#[serde(tag = "type", content = "coordinates")]
enum Geometry {
    /// Rings of `[longitude, latitude(, height)]` positions.
    Polygon(Vec<Vec<Vec<f64>>>),
    MultiPolygon(Vec<Vec<Vec<Vec<f64>>>>),
}

#[derive(Deserialize)]
struct Properties {
    ma_o: String,
    ma_chuc_nang: String,
    chuc_nang: String,
    mat_do_xd_toi_da: Option<f64>,
    tang_cao_toi_da: Option<i32>,
    chieu_cao_toi_da_m: Option<f64>,
    he_so_sd_dat: Option<f64>,
    quyet_dinh: Option<String>,
}

impl Geometry {
    fn to_geo(&self) -> anyhow::Result<MultiPolygon<f64>> {
        let polygons: Vec<&Vec<Vec<Vec<f64>>>> = match self {
            Self::Polygon(rings) => vec![rings],
            Self::MultiPolygon(polygons) => polygons.iter().collect(),
        };
        let mut positions = 0;
        let mut out = Vec::new();
        for rings in polygons {
            let mut lines = Vec::new();
            for ring in rings {
                positions += ring.len();
                anyhow::ensure!(
                    positions <= MAX_POSITIONS,
                    "a zone of more than {MAX_POSITIONS} positions"
                );
                anyhow::ensure!(
                    ring.len() >= 4 && ring.first() == ring.last(),
                    "a ring that is not closed or has fewer than 4 positions"
                );
                let coords = ring
                    .iter()
                    .map(|p| match p.as_slice() {
                        [lon, lat, ..] if platform::geo::valid_position(*lat, *lon) => {
                            Ok(Coord { x: *lon, y: *lat })
                        }
                        _ => Err(anyhow::anyhow!("a position off the earth: {p:?}")),
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                lines.push(LineString::new(coords));
            }
            let mut lines = lines.into_iter();
            let exterior = lines
                .next()
                .ok_or_else(|| anyhow::anyhow!("a polygon without rings"))?;
            out.push(Polygon::new(exterior, lines.collect()));
        }
        Ok(MultiPolygon::new(out))
    }
}

/// Imports each configured layer when it changed.
pub fn start_refresh(state: AdministrationState, jobs: &Jobs) {
    if state.config.planning.is_empty() {
        return;
    }
    let every = Duration::from_secs(state.config.planning_refresh_secs.max(1));
    let client = match OutboundClient::new(
        "planning layers",
        state.plain_http,
        Limits {
            timeout: Duration::from_secs(60),
            max_answer_bytes: MAX_LAYER_BYTES,
            ..Limits::default()
        },
    ) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "no client for the planning layers");
            return;
        }
    };
    jobs.repeat("administration.planning_layers", every, None, move || {
        let (state, client) = (state.clone(), client.clone());
        async move {
            for (jurisdiction, layers) in state.config.planning.iter() {
                for (layer, url) in layers {
                    if let Err(error) = import(&state, &client, jurisdiction, layer, url).await {
                        let error = format!("{error:#}");
                        tracing::warn!(
                            jurisdiction,
                            layer,
                            error,
                            "planning layer not imported; the last import stays"
                        );
                        record_refusal(&state, url, &error).await;
                    }
                }
            }
            Ok(false)
        }
    });
}

async fn import(
    state: &AdministrationState,
    client: &OutboundClient,
    jurisdiction: &str,
    layer: &str,
    url: &str,
) -> anyhow::Result<()> {
    let etag = current_etag(&state.pool, url).await?;
    let mut request =
        Request::get(url).header(header::ACCEPT, "application/geo+json, application/json");
    if let Some(etag) = &etag {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    let answer = client.send(request.body(Full::new(Bytes::new()))?).await?;
    if answer.status == StatusCode::NOT_MODIFIED {
        return Ok(());
    }
    anyhow::ensure!(
        answer.status.is_success(),
        "{url} answered {}",
        answer.status
    );
    let new_etag = answer
        .headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let collection: FeatureCollection = serde_json::from_slice(&answer.body)?;
    anyhow::ensure!(
        collection.features.len() <= MAX_ZONES,
        "more than {MAX_ZONES} zones"
    );
    // Every zone checked before any is written: one bad zone refuses the layer.
    let mut zones = Vec::with_capacity(collection.features.len());
    for (index, feature) in collection.features.iter().enumerate() {
        let shape = feature
            .geometry
            .to_geo()
            .map_err(|e| anyhow::anyhow!("zone {index} ({}): {e}", feature.properties.ma_o))?;
        let bounds = geo::BoundingRect::bounding_rect(&shape)
            .ok_or_else(|| anyhow::anyhow!("zone {index}: empty"))?;
        zones.push((feature, bounds));
    }

    let mut tx = state.pool.begin().await?;
    if !lead(
        &mut tx,
        &format!("administration.planning.{jurisdiction}.{layer}"),
    )
    .await?
    {
        return Ok(());
    }
    // Another replica may have imported this very layer since we asked.
    if new_etag.is_some() && current_etag(&mut *tx, url).await? == new_etag {
        return Ok(());
    }
    sqlx::query!(
        "DELETE FROM planning_zones WHERE jurisdiction = $1 AND layer = $2",
        jurisdiction,
        layer
    )
    .execute(&mut *tx)
    .await?;
    for chunk in zones.chunks(500) {
        let p = |f: fn(&Properties) -> Option<f64>| {
            chunk
                .iter()
                .map(|(z, _)| f(&z.properties))
                .collect::<Vec<_>>()
        };
        let geometry = chunk
            .iter()
            .map(|(z, _)| serde_json::to_value(&z.geometry))
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query!(
            r#"INSERT INTO planning_zones (jurisdiction, layer, zone_code, land_use_code, land_use,
                                           max_coverage_pct, max_floors, max_height_m, max_far,
                                           decision, geometry, min_lat, max_lat, min_lon, max_lon)
               SELECT $1, $2, * FROM UNNEST($3::text[], $4::text[], $5::text[], $6::float8[],
                                            $7::int4[], $8::float8[], $9::float8[], $10::text[],
                                            $11::jsonb[], $12::float8[], $13::float8[],
                                            $14::float8[], $15::float8[])"#,
            jurisdiction,
            layer,
            &chunk
                .iter()
                .map(|(z, _)| z.properties.ma_o.clone())
                .collect::<Vec<_>>(),
            &chunk
                .iter()
                .map(|(z, _)| z.properties.ma_chuc_nang.clone())
                .collect::<Vec<_>>(),
            &chunk
                .iter()
                .map(|(z, _)| z.properties.chuc_nang.clone())
                .collect::<Vec<_>>(),
            &p(|z| z.mat_do_xd_toi_da) as &[Option<f64>],
            &chunk
                .iter()
                .map(|(z, _)| z.properties.tang_cao_toi_da)
                .collect::<Vec<_>>() as &[Option<i32>],
            &p(|z| z.chieu_cao_toi_da_m) as &[Option<f64>],
            &p(|z| z.he_so_sd_dat) as &[Option<f64>],
            &chunk
                .iter()
                .map(|(z, _)| z.properties.quyet_dinh.clone())
                .collect::<Vec<_>>() as &[Option<String>],
            &geometry,
            &chunk.iter().map(|(_, b)| b.min().y).collect::<Vec<_>>(),
            &chunk.iter().map(|(_, b)| b.max().y).collect::<Vec<_>>(),
            &chunk.iter().map(|(_, b)| b.min().x).collect::<Vec<_>>(),
            &chunk.iter().map(|(_, b)| b.max().x).collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!(
        r#"INSERT INTO planning_imports (source, etag, zones, imported_at) VALUES ($1, $2, $3, now())
           ON CONFLICT (source) DO UPDATE SET etag = EXCLUDED.etag, zones = EXCLUDED.zones,
                                              imported_at = now()"#,
        url,
        new_etag,
        zones.len() as i32
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(
        jurisdiction,
        layer,
        zones = zones.len(),
        "planning layer imported"
    );
    Ok(())
}

/// The `ETag` of the layer last imported from `url`.
async fn current_etag(db: impl sqlx::PgExecutor<'_>, url: &str) -> sqlx::Result<Option<String>> {
    Ok(
        sqlx::query_scalar!("SELECT etag FROM planning_imports WHERE source = $1", url)
            .fetch_optional(db)
            .await?
            .flatten(),
    )
}

async fn record_refusal(state: &AdministrationState, url: &str, error: &str) {
    let refusal: String = error.chars().take(500).collect();
    let recorded = sqlx::query!(
        r#"INSERT INTO planning_imports (source, refused_at, refusal) VALUES ($1, now(), $2)
           ON CONFLICT (source) DO UPDATE SET refused_at = now(), refusal = EXCLUDED.refusal"#,
        url,
        refusal
    )
    .execute(&state.pool)
    .await;
    if let Err(error) = recorded {
        tracing::warn!(%error, "the planning layer's refusal was not recorded");
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PointQuery {
    lat: f64,
    lng: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Zoning {
    /// The zones of every layer the point lies in; empty where no plan covers it.
    zones: Vec<Zone>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Zone {
    /// The layer (`phan-khu`, `su-dung-dat`).
    layer: String,
    /// The zone's code on the plan (`PK2-ODT-03`).
    code: String,
    /// The land-use code (`ODT`: urban residential).
    land_use_code: String,
    land_use: Text,
    /// Most of the plot that may be built on, in percent.
    max_coverage_pct: Option<f64>,
    max_floors: Option<i32>,
    max_height_m: Option<f64>,
    /// Most floor area per plot area.
    max_land_use_coefficient: Option<f64>,
    /// The decision that approved the plan.
    decision: Option<String>,
}

/// The zoning at a point.
#[utoipa::path(get, path = "/v1/administration/planning", operation_id = "planning_at_point", tag = "administration",
    params(PointQuery),
    responses((status = 200, body = Zoning),
        (status = 422, description = "`invalid_position`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn at_point(
    State(state): State<AdministrationState>,
    QueryParams(point): QueryParams<PointQuery>,
) -> Result<Json<Zoning>, ApiError> {
    if !platform::geo::valid_position(point.lat, point.lng) {
        return Err(SharedError::InvalidPosition.into());
    }
    let candidates = sqlx::query!(
        r#"SELECT layer, zone_code, land_use_code, land_use, max_coverage_pct, max_floors,
                  max_height_m, max_far, decision, geometry
           FROM planning_zones
           WHERE box(point(min_lon, min_lat), point(max_lon, max_lat)) @> point($1, $2)
           ORDER BY layer, zone_code
           LIMIT 1000"#,
        point.lng,
        point.lat
    )
    .fetch_all(&state.pool)
    .await?;
    let at = Point::new(point.lng, point.lat);
    let mut zones = Vec::new();
    for zone in candidates {
        let geometry: Geometry =
            serde_json::from_value(zone.geometry).map_err(ApiError::internal)?;
        let shape = geometry.to_geo().map_err(ApiError::internal)?;
        if !shape.contains(&at) {
            continue;
        }
        zones.push(Zone {
            layer: zone.layer,
            land_use: Text {
                en: land_use_en(&zone.land_use_code)
                    .map_or_else(|| zone.land_use.clone(), str::to_owned),
                vi: zone.land_use,
            },
            code: zone.zone_code,
            land_use_code: zone.land_use_code,
            max_coverage_pct: zone.max_coverage_pct,
            max_floors: zone.max_floors,
            max_height_m: zone.max_height_m,
            max_land_use_coefficient: zone.max_far,
            decision: zone.decision,
        });
    }
    Ok(Json(Zoning { zones }))
}

/// The English of the land-use codes of Circular 08/2024/TT-BTNMT's list the plans use; the
/// layers carry the Vietnamese.
fn land_use_en(code: &str) -> Option<&'static str> {
    Some(match code {
        "ODT" => "Urban residential land",
        "ONT" => "Rural residential land",
        "TMD" => "Commercial and service land",
        "SKC" => "Non-agricultural production land",
        "DGD" => "Education land",
        "DYT" => "Health care land",
        "DVH" => "Cultural facilities land",
        "DTT" => "Sports land",
        "DDT" => "Historical and cultural heritage site",
        "DKV" => "Recreation and public park land",
        "CXDT" | "CXX" => "Urban green space",
        "DGT" => "Transport land",
        "SON" => "Rivers and streams",
        "MNC" => "Water surface",
        "TSC" => "Public agency land",
        "TON" => "Religious land",
        "NTD" => "Cemetery land",
        "LUA" => "Rice land",
        "HNK" => "Other annual crop land",
        "CLN" => "Perennial crop land",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_ring_is_refused_and_a_closed_one_contains_its_inside() {
        let open = Geometry::Polygon(vec![vec![
            vec![0.0, 0.0],
            vec![1.0, 0.0],
            vec![1.0, 1.0],
            vec![0.0, 1.0],
        ]]);
        assert!(open.to_geo().is_err());
        let square = Geometry::Polygon(vec![vec![
            vec![107.0, 16.0],
            vec![107.1, 16.0],
            vec![107.1, 16.1, 12.0],
            vec![107.0, 16.1],
            vec![107.0, 16.0],
        ]]);
        let shape = square.to_geo().unwrap();
        assert!(shape.contains(&Point::new(107.05, 16.05)));
        assert!(!shape.contains(&Point::new(107.2, 16.05)));
    }
}
