//! Importing OpenStreetMap extracts: GeoJSON whose features' properties are OSM tags (as
//! Overpass and osmtogeojson write them). Each feature is filed under the layer its tags say
//! (`amenity=toilets`, free `internet_access=wlan`, `amenity=parking`,
//! `amenity=motorcycle_parking`, `historic=*`, a traffic camera with a snapshot URL); a source
//! is imported whole or not at all, and only when its `ETag` changed.

use std::time::Duration;

use h3o::Resolution;
use http::header;
use platform::geo::cell_at;
use platform::jobs::{Jobs, lead};
use platform::outbound::{Limits, OutboundClient};
use serde_json::{Map, Value, json};

use crate::PlacesState;

/// The largest extract read.
const MAX_SOURCE_BYTES: usize = 64 * 1024 * 1024;
/// The most places one source may hold.
const MAX_PLACES: usize = 200_000;

pub fn start_refresh(state: PlacesState, jobs: &Jobs) {
    if state.config.sources.is_empty() {
        return;
    }
    let client = match OutboundClient::new(
        "OpenStreetMap extracts",
        state.plain_http,
        Limits {
            timeout: Duration::from_secs(120),
            max_answer_bytes: MAX_SOURCE_BYTES,
            ..Limits::default()
        },
    ) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "no client for the places' sources");
            return;
        }
    };
    let every = Duration::from_secs(state.config.refresh_secs.max(1));
    jobs.repeat("places.import", every, None, move || {
        let (state, client) = (state.clone(), client.clone());
        async move {
            for (jurisdiction, sources) in state.config.sources.iter() {
                for source in sources {
                    if let Err(error) = import(&state, &client, jurisdiction, source).await {
                        let error = format!("{error:#}");
                        tracing::warn!(source, error, "places not imported; the last import stays");
                        sqlx::query!(
                            r#"INSERT INTO place_imports (source, refusal) VALUES ($1, $2)
                               ON CONFLICT (source) DO UPDATE SET refusal = $2, checked_at = now()"#,
                            source,
                            error
                        )
                        .execute(&state.pool)
                        .await?;
                    }
                }
            }
            Ok(false)
        }
    });
}

/// A place as read from a feature.
#[derive(Debug, PartialEq)]
pub struct Place {
    pub id: String,
    pub layer: &'static str,
    pub name_vi: Option<String>,
    pub name_en: Option<String>,
    pub lat: f64,
    pub lng: f64,
    pub opening_hours: Option<String>,
    pub details: Value,
}

async fn import(
    state: &PlacesState,
    client: &OutboundClient,
    jurisdiction: &str,
    source: &str,
) -> anyhow::Result<()> {
    let known = sqlx::query_scalar!("SELECT etag FROM place_imports WHERE source = $1", source)
        .fetch_optional(&state.pool)
        .await?
        .flatten();
    let mut request =
        http::Request::get(source).header(header::ACCEPT, "application/geo+json, application/json");
    if let Some(etag) = &known {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    let answer = client.send(request.body(Default::default())?).await?;
    if answer.status == http::StatusCode::NOT_MODIFIED {
        return Ok(());
    }
    anyhow::ensure!(answer.status.is_success(), "answered {}", answer.status);
    let etag = answer
        .headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let collection: Value = serde_json::from_slice(&answer.body)?;
    let places = read(&collection)?;
    let mut tx = state.pool.begin().await?;
    if !lead(&mut tx, &format!("places.import:{source}")).await? {
        return Ok(());
    }
    // Another replica may have imported this very file meanwhile.
    let current = sqlx::query_scalar!(
        "SELECT etag FROM place_imports WHERE source = $1 FOR UPDATE",
        source
    )
    .fetch_optional(&mut *tx)
    .await?
    .flatten();
    if etag.is_some() && current == etag {
        return Ok(());
    }
    sqlx::query!("DELETE FROM places WHERE source = $1", source)
        .execute(&mut *tx)
        .await?;
    let mut columns = Columns::default();
    for place in &places {
        let (Some(cell), Some(coarse)) = (
            cell_at(place.lat, place.lng, Resolution::Nine),
            cell_at(place.lat, place.lng, Resolution::Seven),
        ) else {
            continue;
        };
        columns.push(place, cell, coarse);
    }
    sqlx::query!(
        r#"INSERT INTO places (id, jurisdiction, layer, name_vi, name_en, latitude, longitude, cell,
                               coarse_cell, opening_hours, details, source)
           SELECT id, $1, layer, name_vi, name_en, latitude, longitude, cell, coarse_cell,
                  opening_hours, details, $2
           FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[],
                       $9::int8[], $10::int8[], $11::text[], $12::jsonb[])
                AS p(id, layer, name_vi, name_en, latitude, longitude, cell, coarse_cell,
                     opening_hours, details)
           ON CONFLICT (id) DO UPDATE SET
               jurisdiction = EXCLUDED.jurisdiction, layer = EXCLUDED.layer,
               name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en,
               latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude,
               cell = EXCLUDED.cell, coarse_cell = EXCLUDED.coarse_cell,
               opening_hours = EXCLUDED.opening_hours, details = EXCLUDED.details,
               source = EXCLUDED.source"#,
        jurisdiction,
        source,
        &columns.id,
        &columns.layer,
        &columns.name_vi as &[Option<String>],
        &columns.name_en as &[Option<String>],
        &columns.lat,
        &columns.lng,
        &columns.cell,
        &columns.coarse,
        &columns.opening_hours as &[Option<String>],
        &columns.details
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO place_imports (source, etag, places, imported_at, refusal)
           VALUES ($1, $2, $3, now(), NULL)
           ON CONFLICT (source) DO UPDATE SET etag = $2, places = $3, imported_at = now(),
               refusal = NULL, checked_at = now()"#,
        source,
        etag,
        columns.id.len() as i32
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(source, places = columns.id.len(), "places imported");
    Ok(())
}

#[derive(Default)]
struct Columns {
    id: Vec<String>,
    layer: Vec<String>,
    name_vi: Vec<Option<String>>,
    name_en: Vec<Option<String>>,
    lat: Vec<f64>,
    lng: Vec<f64>,
    cell: Vec<i64>,
    coarse: Vec<i64>,
    opening_hours: Vec<Option<String>>,
    details: Vec<Value>,
}

impl Columns {
    fn push(&mut self, place: &Place, cell: i64, coarse: i64) {
        self.id.push(place.id.clone());
        self.layer.push(place.layer.to_owned());
        self.name_vi.push(place.name_vi.clone());
        self.name_en.push(place.name_en.clone());
        self.lat.push(place.lat);
        self.lng.push(place.lng);
        self.cell.push(cell);
        self.coarse.push(coarse);
        self.opening_hours.push(place.opening_hours.clone());
        self.details.push(place.details.clone());
    }
}

/// The places of a FeatureCollection; a file that is not one, or holds too many, is refused
/// whole. Features no layer takes are skipped.
pub fn read(collection: &Value) -> anyhow::Result<Vec<Place>> {
    anyhow::ensure!(
        collection["type"] == "FeatureCollection",
        "not a GeoJSON FeatureCollection"
    );
    let features = collection["features"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("a FeatureCollection without features"))?;
    let mut places = Vec::new();
    for feature in features {
        if let Some(place) = place(feature) {
            places.push(place);
            anyhow::ensure!(places.len() <= MAX_PLACES, "more than {MAX_PLACES} places");
        }
    }
    Ok(places)
}

fn place(feature: &Value) -> Option<Place> {
    let tags = feature["properties"].as_object()?;
    let tag = |key: &str| {
        tags.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let layer = layer_of(&tag)?;
    let osm_id = feature["id"]
        .as_str()
        .or_else(|| tag("@id"))
        .or_else(|| tag("id"))?;
    let (lat, lng) = position(&feature["geometry"])?;
    if !platform::geo::valid_position(lat, lng) {
        return None;
    }
    let name = tag("name");
    let name_vi = tag("name:vi").or(name).map(str::to_owned);
    let name_en = tag("name:en")
        .or(tag("name:vi"))
        .or(name)
        .map(str::to_owned);
    let opening_hours = tag("opening_hours")
        .filter(|hours| crate::opening::Hours::parses(hours))
        .map(str::to_owned);
    Some(Place {
        id: format!("osm-{}", osm_id.replace('/', "-")),
        layer,
        name_vi,
        name_en,
        lat,
        lng,
        opening_hours,
        details: details(tags),
    })
}

/// The layer a feature's OSM tags file it under, if any.
fn layer_of<'a>(tag: &impl Fn(&str) -> Option<&'a str>) -> Option<&'static str> {
    let free_wifi = matches!(tag("internet_access"), Some("wlan" | "wifi" | "yes"))
        && tag("internet_access:fee") == Some("no");
    let snapshot = tag("contact:webcam").or(tag("webcam"));
    Some(match () {
        _ if tag("amenity") == Some("toilets") => "toilets",
        _ if tag("amenity") == Some("motorcycle_parking") => "motorbike_parking",
        _ if tag("amenity") == Some("parking") => "parking",
        _ if tag("surveillance:type") == Some("camera")
            && tag("surveillance") == Some("traffic")
            && snapshot.is_some() =>
        {
            "camera"
        }
        _ if tag("historic").is_some_and(|h| h != "no") || tag("heritage").is_some() => "heritage",
        _ if free_wifi => "wifi",
        _ => return None,
    })
}

/// A point's position, or the middle of a polygon's outer ring.
fn position(geometry: &Value) -> Option<(f64, f64)> {
    let coordinates = &geometry["coordinates"];
    let ring = match geometry["type"].as_str()? {
        "Point" => {
            return Some((coordinates[1].as_f64()?, coordinates[0].as_f64()?));
        }
        "Polygon" => coordinates[0].as_array()?,
        "MultiPolygon" => coordinates[0][0].as_array()?,
        _ => return None,
    };
    let points: Vec<(f64, f64)> = ring
        .iter()
        .filter_map(|p| Some((p[1].as_f64()?, p[0].as_f64()?)))
        .collect();
    if points.is_empty() {
        return None;
    }
    let n = points.len() as f64;
    Some((
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    ))
}

/// What residents read of a place besides its name and hours, from its tags.
fn details(tags: &Map<String, Value>) -> Value {
    const KEPT: &[(&str, &str)] = &[
        ("fee", "fee"),
        ("charge", "charge"),
        ("capacity", "capacity"),
        ("wheelchair", "wheelchair"),
        ("unisex", "unisex"),
        ("changing_table", "changing_table"),
        ("internet_access:ssid", "wifi_name"),
        ("contact:webcam", "snapshot_url"),
        ("webcam", "snapshot_url"),
        ("description:vi", "guide_vi"),
        ("description:en", "guide_en"),
        ("website", "website"),
        ("phone", "phone"),
        ("addr:street", "street"),
        ("addr:housenumber", "house_number"),
    ];
    let mut details = Map::new();
    for (tag, key) in KEPT {
        if let Some(value) = tags
            .get(*tag)
            .and_then(Value::as_str)
            .filter(|v| v.len() <= 2000)
            && !details.contains_key(*key)
        {
            details.insert((*key).to_owned(), json!(value));
        }
    }
    Value::Object(details)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(id: &str, tags: Value, geometry: Value) -> Value {
        json!({ "type": "Feature", "id": id, "properties": tags, "geometry": geometry })
    }

    #[test]
    fn osm_tags_file_features_under_their_layers() {
        let point = json!({ "type": "Point", "coordinates": [107.5909, 16.4637] });
        let collection = json!({ "type": "FeatureCollection", "features": [
            feature("node/1", json!({ "amenity": "toilets", "name": "Nhà vệ sinh công cộng", "fee": "no", "opening_hours": "06:00-22:00" }), point.clone()),
            feature("node/2", json!({ "amenity": "cafe", "internet_access": "wlan", "internet_access:fee": "customers" }), point.clone()),
            feature("node/3", json!({ "amenity": "cafe", "internet_access": "wlan", "internet_access:fee": "no", "internet_access:ssid": "Hue-WiFi" }), point.clone()),
            feature("way/4", json!({ "historic": "castle", "name:vi": "Đại Nội", "name:en": "Imperial City", "description:en": "The citadel of the Nguyễn." }),
                json!({ "type": "Polygon", "coordinates": [[[107.57, 16.46], [107.59, 16.46], [107.59, 16.48], [107.57, 16.48], [107.57, 16.46]]] })),
            feature("node/5", json!({ "man_made": "surveillance", "surveillance": "traffic", "surveillance:type": "camera" }), point.clone()),
            feature("node/6", json!({ "amenity": "toilets", "opening_hours": "sometimes, maybe" }), point.clone()),
            feature("node/7", json!({ "amenity": "motorcycle_parking", "capacity": "200" }), point.clone()),
        ]});
        let places = read(&collection).unwrap();
        let layers: Vec<(&str, &str)> = places.iter().map(|p| (p.id.as_str(), p.layer)).collect();
        assert_eq!(
            layers,
            [
                ("osm-node-1", "toilets"),
                ("osm-node-3", "wifi"),
                ("osm-way-4", "heritage"),
                ("osm-node-6", "toilets"),
                ("osm-node-7", "motorbike_parking"),
            ],
            "paid Wi-Fi, and a camera without a snapshot, are not listed"
        );
        assert_eq!(places[1].details["wifi_name"], "Hue-WiFi");
        assert_eq!(places[2].name_en.as_deref(), Some("Imperial City"));
        assert!((places[2].lat - 16.468).abs() < 0.01, "a polygon's middle");
        assert_eq!(places[2].details["guide_en"], "The citadel of the Nguyễn.");
        assert_eq!(
            places[3].opening_hours, None,
            "hours that do not parse are not shown"
        );
        assert!(read(&json!({ "type": "Feature" })).is_err());
    }
}
