//! The Department of Construction's published zoning layers for central Huế, as GeoJSON
//! (RFC 7946):
//!
//! - `GET /layers/{name}.geojson`, `name` one of [`LAYERS`]: `phan-khu`, the city's zoning
//!   plans (quy hoạch phân khu), which set what may be built where, and `su-dung-dat`, the
//!   land-use plan (quy hoạch sử dụng đất) of the same area, which sets only what the land is
//!   for (its building figures are all `null`). Answers `200`, `Content-Type:
//!   application/geo+json`, a `FeatureCollection`, with a strong `ETag` (the same for the same
//!   layer on every start); an `If-None-Match` naming it (in a list, weak or not, or `*`)
//!   gets `304` with the `ETag` and no body. Any other name, or a path without `.geojson`,
//!   is `404`.
//! - Each `Feature` has an `id` (its `ma_o`), a `Polygon` or `MultiPolygon` geometry in WGS84
//!   `[longitude, latitude]`, six decimals: rings closed (last position the first), at least
//!   four positions, exteriors counter-clockwise, holes clockwise. A zone with a hole (the
//!   Citadel around the Imperial City, the river around Cồn Hến islet) does not contain the
//!   hole, which is another zone. The zones of a layer do not overlap; streets between them
//!   (the bridge head of Trường Tiền) belong to none. `properties`:
//!   - `ma_o`: the zone's code, `PK<plan>-<use>-<nn>` in `phan-khu` (`PK1` the Citadel and
//!     the north bank, `PK2` the south bank, `PK3` Vỹ Dạ and Cồn Hến), `SDD-<use>-<nn>` in
//!     `su-dung-dat`;
//!   - `ma_chuc_nang`: the land-use code, one of `ODT` (đất ở tại đô thị), `TMD` (thương mại,
//!     dịch vụ), `DGD` (giáo dục và đào tạo), `DYT` (y tế), `CXDT` (cây xanh đô thị, in
//!     `phan-khu`), `DKV` (khu vui chơi, giải trí công cộng), `DDT` (di tích lịch sử - văn
//!     hóa), `SON` (sông, ngòi); `chuc_nang` its Vietnamese name;
//!   - `mat_do_xd_toi_da` (maximum building coverage, %, a number), `tang_cao_toi_da`
//!     (maximum floors, an integer), `chieu_cao_toi_da_m` (maximum height in metres, a
//!     number), `he_so_sd_dat` (maximum land-use coefficient, a number): `null` where the
//!     plan sets no figure (the river; the Imperial City, where only restoration is allowed;
//!     all of `su-dung-dat`);
//!   - `quyet_dinh`: the decision approving the plan, such as "Quyết định số 1975/QĐ-UBND
//!     ngày 28/8/2023 của UBND tỉnh Thừa Thiên Huế" (the numbers are the sandbox's).
//! - `POST /faults` `{"mode": "down"|"slow"|"garbage"|null, "times": n, "delay_ms": n,
//!   "retry_after_secs": n}` as the other sandboxes: `down` answers `503` with `Retry-After`
//!   (30 s unless told), `slow` answers `delay_ms` late (10 s unless told), `garbage` answers
//!   `200 application/geo+json` with the `phan-khu` layer cut off midway (whatever was asked,
//!   no `ETag`); `times` requests (all until `null`). An unknown mode is `422`.
//!
//! The zones, about 20 in each layer, lie over central Huế between 16.43 and 16.50 N and
//! 107.55 and 107.62 E: the Citadel (Kinh thành, heritage, 3 floors and 11 m) with the
//! Imperial City (Hoàng thành) inside it, Kim Long, Đông Ba market, Gia Hội and Phú Hậu on
//! the north bank, the Perfume River and Cồn Hến, and on the south bank the riverside parks,
//! the commercial strip along Lê Lợi, Huế Central Hospital, Quốc Học and Hai Bà Trưng
//! schools, Vĩnh Ninh, Phú Hội (7 floors), Vỹ Dạ, Phú Nhuận, An Cựu, a park and a school. See
//! [`CITADEL_POINT`] and the constants after it for points to test with.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::faults::{self, Faults};

/// The layers served, as in `/layers/{name}.geojson`.
pub const LAYERS: [&str; 2] = ["phan-khu", "su-dung-dat"];

/// (latitude, longitude) inside the Citadel, towards its west corner, well away from the
/// Imperial City: in `phan-khu` zone [`CITADEL_ZONE_CODE`] only, a heritage
/// (`DDT`) zone of [`CITADEL_MAX_FLOORS`] floors and [`CITADEL_MAX_HEIGHT_M`] metres; in
/// `su-dung-dat` zone [`CITADEL_LAND_USE_ZONE_CODE`] only.
pub const CITADEL_POINT: (f64, f64) = (16.470174, 107.568352);
pub const CITADEL_ZONE_CODE: &str = "PK1-DDT-01";
pub const CITADEL_MAX_FLOORS: u32 = 3;
pub const CITADEL_MAX_HEIGHT_M: f64 = 11.0;
pub const CITADEL_LAND_USE_ZONE_CODE: &str = "SDD-DDT-01";
/// (latitude, longitude) inside the Imperial City: in `phan-khu` zone
/// [`IMPERIAL_CITY_ZONE_CODE`] only (the hole of [`CITADEL_ZONE_CODE`], no figures), in
/// `su-dung-dat` zone [`CITADEL_LAND_USE_ZONE_CODE`] (the whole Citadel) only.
pub const IMPERIAL_CITY_POINT: (f64, f64) = (16.468121, 107.577474);
pub const IMPERIAL_CITY_ZONE_CODE: &str = "PK1-DDT-02";
/// (latitude, longitude) in Phú Hội, south of the river: in `phan-khu` zone
/// [`PHU_HOI_ZONE_CODE`] only, urban housing (`ODT`) of [`PHU_HOI_MAX_FLOORS`] floors; in
/// `su-dung-dat` zone [`PHU_HOI_LAND_USE_ZONE_CODE`] only.
pub const PHU_HOI_POINT: (f64, f64) = (16.46263, 107.596924);
pub const PHU_HOI_ZONE_CODE: &str = "PK2-ODT-02";
pub const PHU_HOI_MAX_FLOORS: u32 = 7;
pub const PHU_HOI_LAND_USE_ZONE_CODE: &str = "SDD-ODT-06";
/// (latitude, longitude) out in the East Sea off Thuận An: in no zone of either layer.
pub const OUTSIDE_POINT: (f64, f64) = (16.65, 107.75);

const DEFAULT_SLOW_MS: u64 = 10_000;
const DEFAULT_RETRY_AFTER_SECS: u64 = 30;

// --- The zones ---

/// The zones are laid out in metres on a local grid, `u` along the river (bearing 50°, north
/// east, downstream) and `v` across it (bearing 320°, towards the Citadel), from the
/// Citadel's south corner; [`position`] turns that into longitude and latitude.
const ORIGIN_LAT: f64 = 16.4555;
const ORIGIN_LON: f64 = 107.575;
const GRID_BEARING_DEG: f64 = 50.0;
const METRES_PER_DEGREE_LAT: f64 = 110_649.0;
/// At 16.47° N.
const METRES_PER_DEGREE_LON: f64 = 106_752.0;

/// A ring in grid metres, not closed: counter-clockwise for an exterior.
type Ring = Vec<(f64, f64)>;

enum Shape {
    /// An exterior then its holes.
    Polygon(Vec<Ring>),
    MultiPolygon(Vec<Vec<Ring>>),
}

/// A plan's figures for a zone; `None` where it sets none.
#[derive(Clone, Copy, Default)]
struct Limits {
    coverage_percent: Option<f64>,
    floors: Option<u32>,
    height_m: Option<f64>,
    coefficient: Option<f64>,
}

struct Zone {
    code: &'static str,
    use_code: &'static str,
    limits: Limits,
    shape: Shape,
}

/// The decision approving the plan a zone code belongs to.
fn decision(code: &str) -> &'static str {
    match code.split('-').next() {
        Some("PK1") => "Quyết định số 1563/QĐ-UBND ngày 30/6/2023 của UBND tỉnh Thừa Thiên Huế",
        Some("PK2") => "Quyết định số 1975/QĐ-UBND ngày 28/8/2023 của UBND tỉnh Thừa Thiên Huế",
        Some("PK3") => "Quyết định số 2410/QĐ-UBND ngày 12/10/2023 của UBND tỉnh Thừa Thiên Huế",
        _ => "Quyết định số 512/QĐ-UBND ngày 28/02/2024 của UBND tỉnh Thừa Thiên Huế",
    }
}

fn use_name(code: &str) -> &'static str {
    match code {
        "ODT" => "Đất ở tại đô thị",
        "TMD" => "Đất thương mại, dịch vụ",
        "DGD" => "Đất xây dựng cơ sở giáo dục và đào tạo",
        "DYT" => "Đất xây dựng cơ sở y tế",
        "CXDT" => "Đất cây xanh đô thị",
        "DKV" => "Đất khu vui chơi, giải trí công cộng",
        "DDT" => "Đất có di tích lịch sử - văn hóa",
        "SON" => "Đất sông, ngòi, kênh, rạch, suối",
        _ => "",
    }
}

fn rect(u0: f64, v0: f64, u1: f64, v1: f64) -> Ring {
    vec![(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
}

/// `ring` the other way round, for a hole.
fn hole(mut ring: Ring) -> Ring {
    ring.reverse();
    ring
}

fn limits(coverage_percent: f64, floors: u32, height_m: f64, coefficient: f64) -> Limits {
    Limits {
        coverage_percent: Some(coverage_percent),
        floors: Some(floors),
        height_m: Some(height_m),
        coefficient: Some(coefficient),
    }
}

// The areas, north bank then river then south bank, upstream to downstream.
fn kim_long() -> Ring {
    rect(-800.0, -150.0, 0.0, 2200.0)
}
fn north_bank_park() -> Ring {
    rect(0.0, -150.0, 2200.0, 0.0)
}
fn citadel() -> Ring {
    rect(0.0, 0.0, 2200.0, 2200.0)
}
fn imperial_city() -> Ring {
    rect(800.0, 600.0, 1400.0, 1200.0)
}
fn dong_ba_market() -> Ring {
    rect(2200.0, -150.0, 2900.0, 500.0)
}
fn gia_hoi() -> Ring {
    rect(2900.0, -150.0, 3600.0, 1200.0)
}
fn phu_hau() -> Ring {
    vec![
        (2200.0, 500.0),
        (2900.0, 500.0),
        (2900.0, 1200.0),
        (3600.0, 1200.0),
        (3600.0, 2200.0),
        (2200.0, 2200.0),
    ]
}
fn river() -> Ring {
    rect(-800.0, -450.0, 3600.0, -150.0)
}
fn con_hen() -> Ring {
    rect(2800.0, -380.0, 3300.0, -220.0)
}
/// Both sides of the Trường Tiền bridge head.
fn south_bank_parks() -> Vec<Vec<Ring>> {
    vec![
        vec![rect(-800.0, -520.0, 1550.0, -450.0)],
        vec![rect(1650.0, -520.0, 3600.0, -450.0)],
    ]
}
fn le_loi() -> Ring {
    rect(1000.0, -650.0, 3600.0, -520.0)
}
fn hospital() -> Ring {
    rect(-800.0, -1100.0, 300.0, -520.0)
}
fn quoc_hoc() -> Ring {
    rect(300.0, -800.0, 650.0, -520.0)
}
fn hai_ba_trung() -> Ring {
    rect(650.0, -800.0, 1000.0, -520.0)
}
fn vinh_ninh() -> Ring {
    vec![
        (300.0, -1100.0),
        (1600.0, -1100.0),
        (1600.0, -650.0),
        (1000.0, -650.0),
        (1000.0, -800.0),
        (300.0, -800.0),
    ]
}
fn phu_hoi() -> Ring {
    rect(1600.0, -1100.0, 3000.0, -650.0)
}
fn vy_da() -> Ring {
    rect(3000.0, -1100.0, 3600.0, -650.0)
}
fn phu_nhuan() -> Ring {
    rect(-800.0, -1600.0, 1600.0, -1100.0)
}
fn south_park() -> Ring {
    rect(1600.0, -1600.0, 2300.0, -1100.0)
}
fn south_school() -> Ring {
    rect(2300.0, -1600.0, 3000.0, -1100.0)
}
fn an_cuu() -> Ring {
    rect(3000.0, -1600.0, 3600.0, -1100.0)
}

fn zone(code: &'static str, use_code: &'static str, limits: Limits, shape: Shape) -> Zone {
    Zone {
        code,
        use_code,
        limits,
        shape,
    }
}

fn one(ring: Ring) -> Shape {
    Shape::Polygon(vec![ring])
}

fn zoning_plan() -> Vec<Zone> {
    let citadel_limits = limits(60.0, CITADEL_MAX_FLOORS, CITADEL_MAX_HEIGHT_M, 1.8);
    let heritage_housing = limits(60.0, 4, 15.0, 2.4);
    let market = limits(70.0, 4, 18.0, 2.8);
    let north_housing = limits(70.0, 4, 16.0, 2.8);
    let islet = limits(60.0, 3, 12.0, 1.8);
    let park = limits(5.0, 1, 6.0, 0.05);
    let commercial = limits(60.0, 9, 36.0, 5.4);
    let hospital_limits = limits(40.0, 9, 36.0, 3.6);
    let school = limits(40.0, 4, 18.0, 1.6);
    let vinh_ninh_housing = limits(80.0, 6, 24.0, 4.8);
    let phu_hoi_housing = limits(80.0, PHU_HOI_MAX_FLOORS, 28.0, 5.6);
    let housing = limits(80.0, 5, 21.0, 4.0);
    let playground = limits(10.0, 2, 9.0, 0.2);
    let none = Limits::default();
    let with_hole = |exterior, inner| Shape::Polygon(vec![exterior, hole(inner)]);
    vec![
        zone(
            CITADEL_ZONE_CODE,
            "DDT",
            citadel_limits,
            with_hole(citadel(), imperial_city()),
        ),
        zone(IMPERIAL_CITY_ZONE_CODE, "DDT", none, one(imperial_city())),
        zone("PK1-ODT-01", "ODT", heritage_housing, one(kim_long())),
        zone("PK1-CXDT-01", "CXDT", park, one(north_bank_park())),
        zone("PK1-TMD-01", "TMD", market, one(dong_ba_market())),
        zone("PK1-ODT-02", "ODT", heritage_housing, one(gia_hoi())),
        zone("PK1-ODT-03", "ODT", north_housing, one(phu_hau())),
        zone("PK1-SON-01", "SON", none, with_hole(river(), con_hen())),
        zone("PK3-ODT-02", "ODT", islet, one(con_hen())),
        zone(
            "PK2-CXDT-01",
            "CXDT",
            park,
            Shape::MultiPolygon(south_bank_parks()),
        ),
        zone("PK2-TMD-01", "TMD", commercial, one(le_loi())),
        zone("PK2-DYT-01", "DYT", hospital_limits, one(hospital())),
        zone("PK2-DGD-01", "DGD", school, one(quoc_hoc())),
        zone("PK2-DGD-02", "DGD", school, one(hai_ba_trung())),
        zone("PK2-ODT-01", "ODT", vinh_ninh_housing, one(vinh_ninh())),
        zone(PHU_HOI_ZONE_CODE, "ODT", phu_hoi_housing, one(phu_hoi())),
        zone("PK3-ODT-01", "ODT", housing, one(vy_da())),
        zone("PK2-ODT-03", "ODT", housing, one(phu_nhuan())),
        zone("PK2-DKV-01", "DKV", playground, one(south_park())),
        zone("PK2-DGD-03", "DGD", school, one(south_school())),
        zone("PK2-ODT-04", "ODT", housing, one(an_cuu())),
    ]
}

/// The same ground by use alone: the Imperial City is part of the Citadel's heritage land,
/// the two schools on Lê Lợi one area, and parks are `DKV`.
fn land_use_plan() -> Vec<Zone> {
    let area = |code, use_code, shape| zone(code, use_code, Limits::default(), shape);
    let both_schools = rect(300.0, -800.0, 1000.0, -520.0);
    vec![
        area(CITADEL_LAND_USE_ZONE_CODE, "DDT", one(citadel())),
        area("SDD-ODT-01", "ODT", one(kim_long())),
        area("SDD-DKV-01", "DKV", one(north_bank_park())),
        area("SDD-TMD-01", "TMD", one(dong_ba_market())),
        area("SDD-ODT-02", "ODT", one(gia_hoi())),
        area("SDD-ODT-03", "ODT", one(phu_hau())),
        area(
            "SDD-SON-01",
            "SON",
            Shape::Polygon(vec![river(), hole(con_hen())]),
        ),
        area("SDD-ODT-04", "ODT", one(con_hen())),
        area("SDD-DKV-02", "DKV", Shape::MultiPolygon(south_bank_parks())),
        area("SDD-TMD-02", "TMD", one(le_loi())),
        area("SDD-DYT-01", "DYT", one(hospital())),
        area("SDD-DGD-01", "DGD", one(both_schools)),
        area("SDD-ODT-05", "ODT", one(vinh_ninh())),
        area(PHU_HOI_LAND_USE_ZONE_CODE, "ODT", one(phu_hoi())),
        area("SDD-ODT-07", "ODT", one(vy_da())),
        area("SDD-ODT-08", "ODT", one(phu_nhuan())),
        area("SDD-DKV-03", "DKV", one(south_park())),
        area("SDD-DGD-02", "DGD", one(south_school())),
        area("SDD-ODT-09", "ODT", one(an_cuu())),
    ]
}

/// A grid point as `[longitude, latitude]`, to six decimals (about 10 cm).
fn position((u, v): (f64, f64)) -> [f64; 2] {
    let (sin, cos) = GRID_BEARING_DEG.to_radians().sin_cos();
    let east = u * sin - v * cos;
    let north = u * cos + v * sin;
    let round = |degrees: f64| (degrees * 1e6).round() / 1e6;
    [
        round(ORIGIN_LON + east / METRES_PER_DEGREE_LON),
        round(ORIGIN_LAT + north / METRES_PER_DEGREE_LAT),
    ]
}

/// Every ring of `zones` with the corners of its neighbours that lie on its edges added, so
/// that zones meeting along an edge share its vertices: once rounded, they neither overlap
/// nor leave slivers between them.
fn noded(mut zones: Vec<Zone>) -> Vec<Zone> {
    fn rings_mut(shape: &mut Shape) -> Vec<&mut Ring> {
        match shape {
            Shape::Polygon(rings) => rings.iter_mut().collect(),
            Shape::MultiPolygon(polygons) => polygons.iter_mut().flatten().collect(),
        }
    }
    let corners: Vec<(f64, f64)> = zones
        .iter_mut()
        .flat_map(|zone| rings_mut(&mut zone.shape))
        .flat_map(|ring| ring.clone())
        .collect();
    for zone in &mut zones {
        for ring in rings_mut(&mut zone.shape) {
            let mut noded = Vec::with_capacity(ring.len());
            for (i, &a) in ring.iter().enumerate() {
                let b = ring[(i + 1) % ring.len()];
                noded.push(a);
                // Grid metres are whole numbers: these tests are exact.
                let along = |p: &(f64, f64)| {
                    let cross = (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0);
                    let dot = (p.0 - a.0) * (b.0 - a.0) + (p.1 - a.1) * (b.1 - a.1);
                    let length = (b.0 - a.0).powi(2) + (b.1 - a.1).powi(2);
                    (cross == 0.0 && dot > 0.0 && dot < length).then_some(dot)
                };
                let mut between: Vec<(f64, (f64, f64))> = corners
                    .iter()
                    .filter_map(|p| along(p).map(|dot| (dot, *p)))
                    .collect();
                between.sort_by(|x, y| x.0.total_cmp(&y.0));
                between.dedup_by(|x, y| x.1 == y.1);
                noded.extend(between.into_iter().map(|(_, p)| p));
            }
            *ring = noded;
        }
    }
    zones
}

fn polygon(rings: &[Ring]) -> Value {
    let rings: Vec<Vec<[f64; 2]>> = rings
        .iter()
        .map(|ring| {
            let mut positions: Vec<[f64; 2]> = ring.iter().copied().map(position).collect();
            if let Some(first) = positions.first().copied() {
                positions.push(first);
            }
            positions
        })
        .collect();
    json!(rings)
}

fn feature(zone: &Zone) -> Value {
    let geometry = match &zone.shape {
        Shape::Polygon(rings) => json!({ "type": "Polygon", "coordinates": polygon(rings) }),
        Shape::MultiPolygon(polygons) => json!({
            "type": "MultiPolygon",
            "coordinates": polygons.iter().map(|rings| polygon(rings)).collect::<Vec<_>>(),
        }),
    };
    json!({
        "type": "Feature",
        "id": zone.code,
        "geometry": geometry,
        "properties": {
            "ma_o": zone.code,
            "ma_chuc_nang": zone.use_code,
            "chuc_nang": use_name(zone.use_code),
            "mat_do_xd_toi_da": zone.limits.coverage_percent,
            "tang_cao_toi_da": zone.limits.floors,
            "chieu_cao_toi_da_m": zone.limits.height_m,
            "he_so_sd_dat": zone.limits.coefficient,
            "quyet_dinh": decision(zone.code),
        },
    })
}

/// A layer as served: its GeoJSON and the `ETag` of that.
struct Layer {
    body: Bytes,
    etag: String,
}

impl Layer {
    fn new(zones: &[Zone]) -> Self {
        let collection = json!({
            "type": "FeatureCollection",
            "features": zones.iter().map(feature).collect::<Vec<_>>(),
        });
        let body = collection.to_string();
        let digest = Sha256::digest(body.as_bytes());
        let etag = format!(
            "\"{}\"",
            digest[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Self {
            body: Bytes::from(body),
            etag,
        }
    }

    /// Whether `If-None-Match` names this version (weak comparison, RFC 9110 §13.1.2).
    fn matches(&self, if_none_match: &str) -> bool {
        if_none_match
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == self.etag.as_str())
    }
}

// --- The server ---

#[derive(Clone, Copy)]
enum Fault {
    Down,
    Slow(Duration),
    Garbage,
}

struct Planning {
    layers: HashMap<&'static str, Layer>,
    faults: Faults<Fault>,
}

pub fn router() -> Router {
    let planning = Planning {
        layers: HashMap::from([
            (LAYERS[0], Layer::new(&noded(zoning_plan()))),
            (LAYERS[1], Layer::new(&noded(land_use_plan()))),
        ]),
        faults: Faults::default(),
    };
    Router::new()
        .route("/layers/{file}", get(layer))
        .route("/faults", post(set_faults))
        .with_state(Arc::new(planning))
}

const GEOJSON: &str = "application/geo+json";

async fn layer(
    State(planning): State<Arc<Planning>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some((fault, retry_after)) = planning.faults.take("*") {
        match fault {
            Fault::Down => {
                return faults::retry_after(
                    (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response(),
                    Some(retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS)),
                );
            }
            Fault::Slow(delay) => tokio::time::sleep(delay).await,
            Fault::Garbage => {
                let body = planning
                    .layers
                    .get(LAYERS[0])
                    .map(|layer| cut_in_half(&layer.body))
                    .unwrap_or_default();
                return ([(header::CONTENT_TYPE, GEOJSON)], body).into_response();
            }
        }
    }
    let Some(layer) = file
        .strip_suffix(".geojson")
        .and_then(|name| planning.layers.get(name))
    else {
        return (StatusCode::NOT_FOUND, "no such layer").into_response();
    };
    let etag = HeaderValue::from_str(&layer.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| layer.matches(v));
    if not_modified {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON)),
            (header::ETAG, etag),
        ],
        layer.body.clone(),
    )
        .into_response()
}

/// The first half of `body`, as a connection cut midway leaves it (at a character boundary,
/// so that what arrives is text, just not JSON).
fn cut_in_half(body: &[u8]) -> Bytes {
    let text = String::from_utf8_lossy(body);
    let mut cut = text.len() / 2;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Bytes::from(text[..cut].to_owned())
}

#[derive(Deserialize)]
struct FaultRequest {
    mode: Option<String>,
    times: Option<u32>,
    delay_ms: Option<u64>,
    retry_after_secs: Option<u64>,
}

async fn set_faults(
    State(planning): State<Arc<Planning>>,
    Json(request): Json<FaultRequest>,
) -> StatusCode {
    let fault = match request.mode.as_deref() {
        None => None,
        Some("down") => Some(Fault::Down),
        Some("slow") => Some(Fault::Slow(Duration::from_millis(
            request.delay_ms.unwrap_or(DEFAULT_SLOW_MS),
        ))),
        Some("garbage") => Some(Fault::Garbage),
        Some(_) => return StatusCode::UNPROCESSABLE_ENTITY,
    };
    planning.faults.set(
        "*".to_owned(),
        fault,
        request.times,
        request.retry_after_secs,
    );
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Instant;

    use axum::body::Body;
    use axum::http::Request;
    use geo::{
        Area, BooleanOps, Contains, Coord, Distance, Euclidean, LineString, MultiPolygon, Point,
        Polygon, Validation, Winding,
    };

    use super::*;
    use crate::gateway::testing::{self, Answer};

    fn app() -> Router {
        Router::new().nest("/sandbox/planning", router())
    }

    async fn fetch(app: &Router, name: &str, if_none_match: Option<&str>) -> Answer {
        let mut request = Request::get(format!("/sandbox/planning/layers/{name}.geojson"));
        if let Some(tag) = if_none_match {
            request = request.header("if-none-match", tag);
        }
        testing::send(app, request.body(Body::empty()).unwrap()).await
    }

    async fn features(app: &Router, name: &str) -> Vec<Value> {
        let answer = fetch(app, name, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{name}");
        let collection = answer.json();
        assert_eq!(collection["type"], "FeatureCollection");
        collection["features"].as_array().unwrap().clone()
    }

    /// A GeoJSON ring, checked: closed, at least four positions, `[lon, lat]` in central Huế.
    fn ring(positions: &Value, code: &str) -> LineString {
        let positions = positions.as_array().unwrap();
        assert!(
            positions.len() >= 4,
            "{code}: a ring of {}",
            positions.len()
        );
        assert_eq!(
            positions.first(),
            positions.last(),
            "{code}: ring not closed"
        );
        let coords: Vec<Coord> = positions
            .iter()
            .map(|position| {
                let position = position.as_array().unwrap();
                assert_eq!(position.len(), 2, "{code}");
                let (lon, lat) = (position[0].as_f64().unwrap(), position[1].as_f64().unwrap());
                assert!((107.55..107.62).contains(&lon), "{code}: longitude {lon}");
                assert!((16.43..16.50).contains(&lat), "{code}: latitude {lat}");
                Coord { x: lon, y: lat }
            })
            .collect();
        LineString::new(coords)
    }

    /// A GeoJSON polygon, checked: exterior counter-clockwise, holes clockwise, valid.
    fn polygon(rings: &Value, code: &str) -> Polygon {
        let mut rings: Vec<LineString> = rings
            .as_array()
            .unwrap()
            .iter()
            .map(|r| ring(r, code))
            .collect();
        assert!(!rings.is_empty(), "{code}");
        let exterior = rings.remove(0);
        assert!(exterior.is_ccw(), "{code}: exterior not counter-clockwise");
        for hole in &rings {
            assert!(hole.is_cw(), "{code}: hole not clockwise");
        }
        let polygon = Polygon::new(exterior, rings);
        assert!(
            polygon.is_valid(),
            "{code}: {:?}",
            polygon.check_validation()
        );
        polygon
    }

    fn geometry(feature: &Value) -> MultiPolygon {
        let code = feature["properties"]["ma_o"].as_str().unwrap();
        let geometry = &feature["geometry"];
        let coordinates = &geometry["coordinates"];
        match geometry["type"].as_str().unwrap() {
            "Polygon" => MultiPolygon::new(vec![polygon(coordinates, code)]),
            "MultiPolygon" => MultiPolygon::new(
                coordinates
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| polygon(p, code))
                    .collect(),
            ),
            other => panic!("{code}: a {other}"),
        }
    }

    /// The codes of the zones of `features` strictly containing `(lat, lon)`, at least ten
    /// metres or so from any of their edges.
    fn zones_at(features: &[Value], (lat, lon): (f64, f64)) -> Vec<String> {
        let point = Point::new(lon, lat);
        features
            .iter()
            .filter(|feature| {
                let shape = geometry(feature);
                if !shape.contains(&point) {
                    return false;
                }
                for polygon in &shape {
                    for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                        assert!(
                            Euclidean.distance(&point, ring) > 1e-4,
                            "({lat}, {lon}) is near an edge of {}",
                            feature["id"]
                        );
                    }
                }
                true
            })
            .map(|feature| feature["properties"]["ma_o"].as_str().unwrap().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn every_zone_is_a_valid_polygon_with_its_properties() {
        let app = app();
        for name in LAYERS {
            let features = features(&app, name).await;
            assert!(
                (15..=25).contains(&features.len()),
                "{name}: {}",
                features.len()
            );
            let mut codes = HashSet::new();
            for feature in &features {
                assert_eq!(feature["type"], "Feature");
                let properties = &feature["properties"];
                let code = properties["ma_o"].as_str().unwrap();
                assert!(codes.insert(code.to_owned()), "{code} twice");
                assert_eq!(feature["id"], code);
                let use_code = properties["ma_chuc_nang"].as_str().unwrap();
                let prefix = if name == "phan-khu" { "PK" } else { "SDD-" };
                assert!(code.starts_with(prefix), "{code}");
                assert!(code.contains(&format!("-{use_code}-")), "{code}");
                assert_eq!(properties["chuc_nang"], use_name(use_code), "{code}");
                assert!(!use_name(use_code).is_empty(), "{code}: {use_code}");
                let figures = [
                    "mat_do_xd_toi_da",
                    "tang_cao_toi_da",
                    "chieu_cao_toi_da_m",
                    "he_so_sd_dat",
                ];
                for figure in figures {
                    let value = &properties[figure];
                    assert!(value.is_null() || value.is_number(), "{code}: {figure}");
                    if name == "su-dung-dat" {
                        assert!(value.is_null(), "{code}: {figure}");
                    }
                }
                let floors = &properties["tang_cao_toi_da"];
                assert!(floors.is_null() || floors.is_u64(), "{code}");
                let coverage = properties["mat_do_xd_toi_da"].as_f64().unwrap_or(0.0);
                assert!((0.0..=100.0).contains(&coverage), "{code}");
                let decision = properties["quyet_dinh"].as_str().unwrap();
                assert!(decision.starts_with("Quyết định số "), "{code}");
                assert!(decision.ends_with("của UBND tỉnh Thừa Thiên Huế"), "{code}");
                geometry(feature);
            }
        }
    }

    #[tokio::test]
    async fn the_zones_of_a_layer_tile_without_overlaps_or_gaps() {
        let app = app();
        // Neighbours share their vertices, so rounding leaves nothing between them but
        // floating-point dust; the smallest zone is 80,000 m².
        let square_metres = METRES_PER_DEGREE_LAT * METRES_PER_DEGREE_LON;
        for name in LAYERS {
            let features = features(&app, name).await;
            let shapes: Vec<(String, MultiPolygon)> = features
                .iter()
                .map(|f| (f["id"].as_str().unwrap().to_owned(), geometry(f)))
                .collect();
            // No gaps either: the zones cover the grid's 4,400 by 3,800 metres but for the
            // bridge head's 100 by 70.
            let covered: f64 = shapes.iter().map(|(_, s)| s.unsigned_area()).sum();
            let expected = 4_400.0 * 3_800.0 - 100.0 * 70.0;
            assert!(
                (covered * square_metres - expected).abs() < 1_000.0,
                "{name}: {} m²",
                covered * square_metres
            );
            for (i, (a, first)) in shapes.iter().enumerate() {
                for (b, second) in &shapes[i + 1..] {
                    let shared = first.intersection(second).unsigned_area() * square_metres;
                    assert!(shared < 0.01, "{name}: {a} and {b} share {shared} m²");
                }
            }
        }
    }

    #[tokio::test]
    async fn the_test_points_fall_in_exactly_the_zones_claimed() {
        let app = app();
        let zoning = features(&app, "phan-khu").await;
        let land_use = features(&app, "su-dung-dat").await;
        assert_eq!(zones_at(&zoning, CITADEL_POINT), [CITADEL_ZONE_CODE]);
        assert_eq!(
            zones_at(&land_use, CITADEL_POINT),
            [CITADEL_LAND_USE_ZONE_CODE]
        );
        assert_eq!(
            zones_at(&zoning, IMPERIAL_CITY_POINT),
            [IMPERIAL_CITY_ZONE_CODE]
        );
        assert_eq!(
            zones_at(&land_use, IMPERIAL_CITY_POINT),
            [CITADEL_LAND_USE_ZONE_CODE]
        );
        assert_eq!(zones_at(&zoning, PHU_HOI_POINT), [PHU_HOI_ZONE_CODE]);
        assert_eq!(
            zones_at(&land_use, PHU_HOI_POINT),
            [PHU_HOI_LAND_USE_ZONE_CODE]
        );
        assert!(zones_at(&zoning, OUTSIDE_POINT).is_empty());
        assert!(zones_at(&land_use, OUTSIDE_POINT).is_empty());

        let properties = |features: &[Value], code: &str| {
            features
                .iter()
                .find(|f| f["id"] == code)
                .unwrap()
                .get("properties")
                .unwrap()
                .clone()
        };
        let citadel = properties(&zoning, CITADEL_ZONE_CODE);
        assert_eq!(citadel["ma_chuc_nang"], "DDT");
        assert_eq!(citadel["tang_cao_toi_da"], CITADEL_MAX_FLOORS);
        assert_eq!(citadel["chieu_cao_toi_da_m"], CITADEL_MAX_HEIGHT_M);
        let imperial_city = properties(&zoning, IMPERIAL_CITY_ZONE_CODE);
        assert!(imperial_city["tang_cao_toi_da"].is_null());
        let phu_hoi = properties(&zoning, PHU_HOI_ZONE_CODE);
        assert_eq!(phu_hoi["ma_chuc_nang"], "ODT");
        assert_eq!(phu_hoi["tang_cao_toi_da"], PHU_HOI_MAX_FLOORS);
        assert_eq!(
            properties(&land_use, PHU_HOI_LAND_USE_ZONE_CODE)["ma_chuc_nang"],
            "ODT"
        );
        // Both kinds of geometry are served.
        let kinds: HashSet<&str> = zoning
            .iter()
            .map(|f| f["geometry"]["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, HashSet::from(["Polygon", "MultiPolygon"]));
    }

    #[tokio::test]
    async fn layers_carry_a_strong_etag_and_answer_304_when_it_matches() {
        let app = app();
        let zoning = fetch(&app, "phan-khu", None).await;
        assert_eq!(zoning.status, StatusCode::OK);
        assert_eq!(zoning.headers["content-type"], "application/geo+json");
        let etag = zoning.headers["etag"].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10);
        let land_use = fetch(&app, "su-dung-dat", None).await;
        assert_ne!(land_use.headers["etag"], etag.as_str());
        // The same on another start.
        let restarted = Router::new().nest("/sandbox/planning", router());
        assert_eq!(fetch(&restarted, "phan-khu", None).await.body, zoning.body);

        for tag in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"other\", {etag}"),
            "*".to_owned(),
        ] {
            let again = fetch(&app, "phan-khu", Some(&tag)).await;
            assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{tag}");
            assert_eq!(again.headers["etag"], etag.as_str());
            assert!(again.body.is_empty());
        }
        let changed = fetch(&app, "phan-khu", Some("\"something-else\"")).await;
        assert_eq!(changed.status, StatusCode::OK);
        let other_layer = fetch(&app, "su-dung-dat", Some(&etag)).await;
        assert_eq!(other_layer.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_layers_are_not_found() {
        let app = app();
        for path in [
            "/sandbox/planning/layers/quy-hoach-chung.geojson",
            "/sandbox/planning/layers/phan-khu",
            "/sandbox/planning/layers/phan-khu.json",
            "/sandbox/planning/layers/.geojson",
        ] {
            assert_eq!(
                testing::get(&app, path).await.status,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn faults_go_down_slow_and_garbled_then_back_to_normal() {
        let app = app();
        let fault = |body: Value| {
            let app = app.clone();
            async move {
                testing::post_json(&app, "/sandbox/planning/faults", &body)
                    .await
                    .status
            }
        };
        assert_eq!(
            fault(json!({ "mode": "down", "times": 1 })).await,
            StatusCode::NO_CONTENT
        );
        let down = fetch(&app, "phan-khu", None).await;
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.headers["retry-after"], "30");
        assert_eq!(fetch(&app, "phan-khu", None).await.status, StatusCode::OK);

        fault(json!({ "mode": "garbage" })).await;
        for name in LAYERS {
            let garbage = fetch(&app, name, None).await;
            assert_eq!(garbage.status, StatusCode::OK);
            assert_eq!(garbage.headers["content-type"], "application/geo+json");
            assert!(garbage.body.starts_with('{'));
            assert!(garbage.body.contains("PK1-DDT-01"));
            assert!(serde_json::from_str::<Value>(&garbage.body).is_err());
        }
        fault(json!({ "mode": null })).await;
        assert!(serde_json::from_str::<Value>(&fetch(&app, "phan-khu", None).await.body).is_ok());

        fault(json!({ "mode": "slow", "delay_ms": 200, "times": 1 })).await;
        let started = Instant::now();
        assert_eq!(
            fetch(&app, "su-dung-dat", None).await.status,
            StatusCode::OK
        );
        assert!(started.elapsed() >= Duration::from_millis(200));
        let started = Instant::now();
        fetch(&app, "su-dung-dat", None).await;
        assert!(started.elapsed() < Duration::from_millis(200));

        assert_eq!(
            fault(json!({ "mode": "sideways" })).await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[tokio::test]
    async fn the_sandbox_router_serves_it_under_sandbox_planning() {
        let app = crate::router();
        let answer = fetch(&app, "phan-khu", None).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
}
