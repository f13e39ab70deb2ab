//! An OpenStreetMap extract of central Huế, standing in for the one the city exports from OSM
//! (Overpass, then osmtogeojson): public toilets, free Wi-Fi, car and motorbike parking,
//! heritage sites with a guide text, and traffic cameras, as GeoJSON whose properties are the
//! OSM tags, among features no layer takes (a café's paid Wi-Fi, a camera that is not a traffic
//! camera).
//!
//! - `GET /sandbox/osm/hue-amenities.geojson`: `application/geo+json` with a strong `ETag`;
//!   `304` for a matching `If-None-Match`.
//! - `POST /sandbox/osm/faults` as the other sandboxes (`down`, `slow`, `garbage`: a file cut
//!   off midway).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};

use crate::faults::{Faults, Outage, OutageRequest};

const EXTRACT: &str = include_str!("osm/hue-amenities.geojson");
/// The Museum of Royal Antiquities, closed on Mondays and public holidays.
pub const MUSEUM_ID: &str = "osm-node-9000032";
pub const MUSEUM_POINT: (f64, f64) = (16.4662, 107.5818);
/// The walking street's toilet, open round the clock.
pub const ALL_NIGHT_TOILET_ID: &str = "osm-node-9000002";
/// Between the Phu Văn Lâu and walking street toilets.
pub const CENTRE_POINT: (f64, f64) = (16.4680, 107.5860);

#[derive(Default)]
struct Osm {
    faults: Faults<Outage>,
}

pub fn router() -> Router {
    Router::new()
        .route("/hue-amenities.geojson", get(extract))
        .route("/faults", post(set_fault))
        .with_state(Arc::new(Osm::default()))
}

async fn extract(State(osm): State<Arc<Osm>>, headers: HeaderMap) -> Response {
    if let Some(fault) = osm
        .faults
        .due_as("application/geo+json", &EXTRACT[..200])
        .await
    {
        return fault;
    }
    let digest = format!("{:x}", Sha256::digest(EXTRACT.as_bytes()));
    let etag = format!("\"{}\"", &digest[..16]);
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/geo+json".to_owned()),
            (header::ETAG, etag),
        ],
        EXTRACT,
    )
        .into_response()
}

async fn set_fault(State(osm): State<Arc<Osm>>, Json(request): Json<OutageRequest>) -> StatusCode {
    osm.faults.apply(request)
}
