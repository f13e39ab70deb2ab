//! OpenAQ's API v3 (<https://docs.openaq.org>), standing in for the air-quality stations
//! Huế's environment service reads:
//!
//! - Every request needs `X-API-Key` (any non-empty key), or is `401 {"detail":"Unauthorized.
//!   A valid API key must be provided in the X-API-Key header."}`.
//! - `GET /v3/locations/{id}/sensors`: `{"meta": {"name":"openaq-api","website":"/","page":1,
//!   "limit":100,"found":n}, "results": [sensor..]}`, each sensor with its `id`, `name`
//!   (`"pm25 µg/m³"`), `parameter` (`id`, `name`, `units`, `displayName`), `datetimeFirst`,
//!   `datetimeLast` and `latest`; an unknown location is `404 {"detail":"Location not found"}`.
//! - `GET /v3/sensors/{id}/hours?datetime_from=&datetime_to=&limit=100&page=1`: the sensor's
//!   hourly averages, oldest first, each with `value`, `flagInfo`, `parameter`, `period`
//!   (`label` `1hour`, `datetimeFrom` and `datetimeTo` as `{"utc","local"}`), `coordinates`,
//!   `summary` and `coverage`. Only complete hours (`datetimeTo` not after now), at most
//!   [`HISTORY_DAYS`] back; `datetime_from` inclusive and `datetime_to` exclusive on an hour's
//!   `datetimeFrom` (RFC 3339, or a date). `limit` `1..=1000` and `page` from 1, else `422`
//!   with FastAPI's `{"detail":[{"type","loc","msg","input"}]}`. An unknown sensor is
//!   `404 {"detail":"Sensor not found"}`.
//! - For tests, not OpenAQ (no key needed): `PUT /test/sensors/{id}/hours` `[{"from":
//!   "2026-12-07T00:00:00Z","value":20.3}, ..]` sets those hours' values (`null`: the hour is
//!   missing), `DELETE /test/sensors/{id}/hours` brings back the generated ones; `204`.
//! - `POST /faults` as the other sandboxes: `down` (`503`, `Retry-After` 30 s unless told),
//!   `slow` (`delay_ms`, 10 s unless told), `garbage` (`200 application/json` cut off midway).
//!
//! Three stations: [`CENTRE_LOCATION_ID`] on Lê Lợi (PM2.5 15-45 µg/m³, higher at 6-9 and
//! 17-21 local time, with PM10, O₃, CO in ppm, SO₂ and NO₂), [`INDUSTRIAL_LOCATION_ID`] in
//! Phú Bài industrial park (PM2.5 55-90, PM10, NO₂) and [`COAST_LOCATION_ID`] at Thuận An
//! (PM2.5 and PM10), whose PM2.5 sensor [`OFFLINE_SENSOR_ID`] has sent nothing for the last
//! [`OFFLINE_HOURS`] hours. Values come from the sensor and the hour, the same on every start.

use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::{Faults, Outage, OutageRequest};
use crate::gateway::unit;

pub const CENTRE_LOCATION_ID: u64 = 900_101;
pub const INDUSTRIAL_LOCATION_ID: u64 = 900_102;
pub const COAST_LOCATION_ID: u64 = 900_103;
/// PM2.5 at the centre, 15-45 µg/m³.
pub const CENTRE_PM25_SENSOR_ID: u64 = 9_001_011;
/// CO at the centre, in ppm (parameter 8).
pub const CENTRE_CO_SENSOR_ID: u64 = 9_001_014;
/// PM2.5 in the industrial park, 55-90 µg/m³.
pub const INDUSTRIAL_PM25_SENSOR_ID: u64 = 9_001_021;
/// PM2.5 at Thuận An, silent for the last [`OFFLINE_HOURS`] hours.
pub const OFFLINE_SENSOR_ID: u64 = 9_001_031;
/// PM10 at Thuận An, reporting as usual.
pub const COAST_PM10_SENSOR_ID: u64 = 9_001_032;
pub const OFFLINE_HOURS: i64 = 6;
pub const HISTORY_DAYS: i64 = 30;

/// What a cut connection leaves of an answer.
const GARBAGE: &str = r#"{"meta":{"name":"openaq-api","website":"/","page":1,"limit":100,"fou"#;
const UNAUTHORIZED: &str =
    "Unauthorized. A valid API key must be provided in the X-API-Key header.";

struct Parameter {
    id: u32,
    name: &'static str,
    units: &'static str,
    display: &'static str,
}

impl Parameter {
    const fn new(id: u32, name: &'static str, units: &'static str, display: &'static str) -> Self {
        Self {
            id,
            name,
            units,
            display,
        }
    }
}

const PM10: Parameter = Parameter::new(1, "pm10", "µg/m³", "PM10");
const PM25: Parameter = Parameter::new(2, "pm25", "µg/m³", "PM2.5");
const O3: Parameter = Parameter::new(3, "o3", "µg/m³", "O₃");
const NO2: Parameter = Parameter::new(5, "no2", "µg/m³", "NO₂");
const SO2: Parameter = Parameter::new(6, "so2", "µg/m³", "SO₂");
/// As the centre's sensor reports it; OpenAQ's `co` in µg/m³ is parameter 4.
const CO_PPM: Parameter = Parameter::new(8, "co", "ppm", "CO");

/// (id, name, latitude, longitude).
const LOCATIONS: [(u64, &str, f64, f64); 3] = [
    (CENTRE_LOCATION_ID, "Lê Lợi, Huế", 16.4637, 107.5909),
    (INDUSTRIAL_LOCATION_ID, "KCN Phú Bài", 16.4012, 107.7015),
    (COAST_LOCATION_ID, "Thuận An", 16.5567, 107.6362),
];

/// A sensor, and how its hourly values run: `base`, plus up to `peak` at rush hours (6-9 and
/// 17-21 local; around noon for ozone, which sunlight makes), up to `day` from one day to the
/// next, and up to `noise` from one hour to the next.
struct Sensor {
    id: u64,
    location: u64,
    parameter: &'static Parameter,
    base: f64,
    peak: f64,
    day: f64,
    noise: f64,
}

#[rustfmt::skip]
const SENSORS: [Sensor; 11] = [
    Sensor { id: CENTRE_PM25_SENSOR_ID, location: CENTRE_LOCATION_ID, parameter: &PM25, base: 17.0, peak: 18.0, day: 6.0, noise: 4.0 },
    Sensor { id: 9_001_012, location: CENTRE_LOCATION_ID, parameter: &PM10, base: 28.0, peak: 28.0, day: 10.0, noise: 6.0 },
    Sensor { id: 9_001_013, location: CENTRE_LOCATION_ID, parameter: &O3, base: 20.0, peak: 50.0, day: 10.0, noise: 8.0 },
    Sensor { id: CENTRE_CO_SENSOR_ID, location: CENTRE_LOCATION_ID, parameter: &CO_PPM, base: 0.3, peak: 0.6, day: 0.15, noise: 0.1 },
    Sensor { id: 9_001_015, location: CENTRE_LOCATION_ID, parameter: &SO2, base: 4.0, peak: 6.0, day: 3.0, noise: 2.0 },
    Sensor { id: 9_001_016, location: CENTRE_LOCATION_ID, parameter: &NO2, base: 12.0, peak: 22.0, day: 6.0, noise: 4.0 },
    Sensor { id: INDUSTRIAL_PM25_SENSOR_ID, location: INDUSTRIAL_LOCATION_ID, parameter: &PM25, base: 58.0, peak: 18.0, day: 6.0, noise: 6.0 },
    Sensor { id: 9_001_022, location: INDUSTRIAL_LOCATION_ID, parameter: &PM10, base: 90.0, peak: 30.0, day: 10.0, noise: 8.0 },
    Sensor { id: 9_001_026, location: INDUSTRIAL_LOCATION_ID, parameter: &NO2, base: 30.0, peak: 25.0, day: 8.0, noise: 6.0 },
    Sensor { id: OFFLINE_SENSOR_ID, location: COAST_LOCATION_ID, parameter: &PM25, base: 10.0, peak: 8.0, day: 5.0, noise: 3.0 },
    Sensor { id: COAST_PM10_SENSOR_ID, location: COAST_LOCATION_ID, parameter: &PM10, base: 22.0, peak: 12.0, day: 8.0, noise: 5.0 },
];

#[derive(Default)]
struct OpenAq {
    faults: Faults<Outage>,
    /// Values tests set, by sensor and hour (since the epoch); `None`: missing.
    replaced: Mutex<HashMap<u64, HashMap<i64, Option<f64>>>>,
}

pub fn router() -> Router {
    Router::new()
        .route("/v3/locations/{id}/sensors", get(location_sensors))
        .route("/v3/sensors/{id}/hours", get(sensor_hours))
        .route(
            "/test/sensors/{id}/hours",
            put(replace_hours).delete(restore_hours),
        )
        .route("/faults", post(set_faults))
        .with_state(Arc::new(OpenAq::default()))
}

async fn set_faults(
    State(openaq): State<Arc<OpenAq>>,
    Json(request): Json<OutageRequest>,
) -> StatusCode {
    openaq.faults.apply(request)
}

/// What comes before the answer: a fault, if one is due, then the key.
async fn gate(openaq: &OpenAq, headers: &HeaderMap) -> Option<Response> {
    if let Some(outage) = openaq.faults.due(GARBAGE).await {
        return Some(outage);
    }
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if key.is_none_or(|k| k.trim().is_empty()) {
        return Some(detail(StatusCode::UNAUTHORIZED, UNAUTHORIZED));
    }
    None
}

async fn location_sensors(
    State(openaq): State<Arc<OpenAq>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = gate(&openaq, &headers).await {
        return refused;
    }
    let Some((location, _, latitude, longitude)) = LOCATIONS.iter().find(|l| id == l.0.to_string())
    else {
        return detail(StatusCode::NOT_FOUND, "Location not found");
    };
    let now = Utc::now();
    let earliest = at(current_hour(now) - HISTORY_DAYS * 24);
    let results: Vec<Value> = SENSORS
        .iter()
        .filter(|s| s.location == *location)
        .map(|sensor| {
            let last = openaq.readings(sensor, earliest, now, now).pop();
            let end = last.map(|(hour, _)| stamp(at(hour + 1)));
            json!({
                "id": sensor.id,
                "name": format!("{} {}", sensor.parameter.name, sensor.parameter.units),
                "parameter": parameter(sensor.parameter, Some(sensor.parameter.display)),
                "datetimeFirst": stamp(earliest),
                "datetimeLast": end,
                "coverage": null,
                "latest": last.map(|(_, value)| json!({
                    "datetime": end,
                    "value": value,
                    "coordinates": { "latitude": latitude, "longitude": longitude },
                })),
                "summary": null,
            })
        })
        .collect();
    Json(json!({ "meta": meta(1, 100, results.len()), "results": results })).into_response()
}

async fn sensor_hours(
    State(openaq): State<Arc<OpenAq>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(refused) = gate(&openaq, &headers).await {
        return refused;
    }
    let Some(sensor) = SENSORS.iter().find(|s| id == s.id.to_string()) else {
        return detail(StatusCode::NOT_FOUND, "Sensor not found");
    };
    let now = Utc::now();
    let (from, to, limit, page) = match HoursQuery::parse(query.as_deref().unwrap_or(""), now) {
        Ok(HoursQuery(from, to, limit, page)) => (from, to, limit, page),
        Err(problem) => {
            let body = json!({ "detail": [problem] });
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
        }
    };
    let readings = openaq.readings(sensor, from, to, now);
    let results: Vec<Value> = readings
        .iter()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .map(|(hour, value)| {
            let (start, end) = (stamp(at(*hour)), stamp(at(hour + 1)));
            json!({
                "value": value,
                "flagInfo": { "hasFlags": false },
                "parameter": parameter(sensor.parameter, None),
                "period": {
                    "label": "1hour",
                    "interval": "01:00:00",
                    "datetimeFrom": start,
                    "datetimeTo": end,
                },
                "coordinates": null,
                "summary": null,
                "coverage": {
                    "expectedCount": 1,
                    "expectedInterval": "01:00:00",
                    "observedCount": 1,
                    "observedInterval": "01:00:00",
                    "percentComplete": 100.0,
                    "percentCoverage": 100.0,
                    "datetimeFrom": start,
                    "datetimeTo": end,
                },
            })
        })
        .collect();
    Json(json!({ "meta": meta(page, limit, readings.len()), "results": results })).into_response()
}

impl OpenAq {
    /// The hours of `sensor` with a value, oldest first: those starting from `from` and before
    /// `to`, complete at `now` and at most [`HISTORY_DAYS`] old.
    fn readings(
        &self,
        sensor: &Sensor,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<(i64, f64)> {
        let current = current_hour(now);
        let earliest = current - HISTORY_DAYS * 24;
        let replaced = self.replaced.lock().unwrap_or_else(|p| p.into_inner());
        let replaced = replaced.get(&sensor.id);
        (earliest..current)
            .filter(|hour| at(*hour) >= from && at(*hour) < to)
            .filter_map(|hour| {
                let value = match replaced.and_then(|r| r.get(&hour)) {
                    Some(value) => *value,
                    None if sensor.id == OFFLINE_SENSOR_ID && hour >= current - OFFLINE_HOURS => {
                        None
                    }
                    None => Some(generated(sensor, hour)),
                };
                value.map(|v| (hour, v))
            })
            .collect()
    }
}

/// The value of `sensor` over the hour starting `hour` hours after the epoch.
fn generated(sensor: &Sensor, hour: i64) -> f64 {
    let local = hour + 7;
    let peak = if sensor.parameter.name == "o3" {
        // Sunlight makes ozone: from 08:00 to 18:00, most at 13:00.
        let h = local.rem_euclid(24) as f64;
        ((h - 8.0) / 10.0 * PI).sin().max(0.0)
    } else {
        match local.rem_euclid(24) {
            6..=9 | 17..=21 => 1.0,
            5 | 10 | 16 | 22 => 0.5,
            _ => 0.0,
        }
    };
    let day = unit(&[sensor.id, local.div_euclid(24) as u64]);
    let noise = unit(&[sensor.id, hour as u64, 1]);
    let value = sensor.base + peak * sensor.peak + day * sensor.day + noise * sensor.noise;
    let scale = if sensor.parameter.units == "ppm" {
        100.0
    } else {
        10.0
    };
    (value * scale).round() / scale
}

#[derive(Deserialize)]
struct Replacement {
    from: String,
    value: Option<f64>,
}

async fn replace_hours(
    State(openaq): State<Arc<OpenAq>>,
    Path(id): Path<u64>,
    Json(replacements): Json<Vec<Replacement>>,
) -> Response {
    if !SENSORS.iter().any(|s| s.id == id) {
        return detail(StatusCode::NOT_FOUND, "Sensor not found");
    }
    let mut hours = Vec::new();
    for replacement in replacements {
        let start = DateTime::parse_from_rfc3339(&replacement.from).map(|t| t.timestamp());
        match start {
            Ok(seconds) if seconds.rem_euclid(3600) == 0 => {
                hours.push((seconds / 3600, replacement.value));
            }
            _ => {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "from must be the start of an hour, RFC 3339",
                )
                    .into_response();
            }
        }
    }
    let mut replaced = openaq.replaced.lock().unwrap_or_else(|p| p.into_inner());
    replaced.entry(id).or_default().extend(hours);
    StatusCode::NO_CONTENT.into_response()
}

async fn restore_hours(State(openaq): State<Arc<OpenAq>>, Path(id): Path<u64>) -> StatusCode {
    let mut replaced = openaq.replaced.lock().unwrap_or_else(|p| p.into_inner());
    replaced.remove(&id);
    StatusCode::NO_CONTENT
}

fn detail(status: StatusCode, detail: &str) -> Response {
    (status, Json(json!({ "detail": detail }))).into_response()
}

/// `datetime_from`, `datetime_to`, `limit` and `page`, as FastAPI checks them.
struct HoursQuery(DateTime<Utc>, DateTime<Utc>, usize, usize);

impl HoursQuery {
    /// The query, or FastAPI's account of what is wrong with it.
    fn parse(query: &str, now: DateTime<Utc>) -> Result<Self, Value> {
        let pairs: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let problem = |kind: &str, key: &str, msg: &str, input: &str| json!({ "type": kind, "loc": ["query", key], "msg": msg, "input": input });
        let time = |key: &str, default: DateTime<Utc>| match pairs.get(key) {
            None => Ok(default),
            Some(text) => parse_time(text).ok_or_else(|| {
                let msg = "Input should be a valid datetime or date";
                problem("datetime_from_date_parsing", key, msg, text)
            }),
        };
        let number = |key: &str, default: usize, max: usize| {
            let Some(text) = pairs.get(key) else {
                return Ok(default);
            };
            let Ok(n) = text.trim().parse::<i64>() else {
                let msg = "Input should be a valid integer, unable to parse string as an integer";
                return Err(problem("int_parsing", key, msg, text));
            };
            if n < 1 {
                let msg = "Input should be greater than or equal to 1";
                return Err(problem("greater_than_equal", key, msg, text));
            }
            if n as usize > max {
                let msg = format!("Input should be less than or equal to {max}");
                return Err(problem("less_than_equal", key, &msg, text));
            }
            Ok(n as usize)
        };
        Ok(Self(
            time("datetime_from", DateTime::<Utc>::MIN_UTC)?,
            time("datetime_to", now)?,
            number("limit", 100, 1000)?,
            number("page", 1, usize::MAX)?,
        ))
    }
}

fn meta(page: usize, limit: usize, found: usize) -> Value {
    json!({ "name": "openaq-api", "website": "/", "page": page, "limit": limit, "found": found })
}

fn parameter(parameter: &Parameter, display: Option<&str>) -> Value {
    json!({
        "id": parameter.id,
        "name": parameter.name,
        "units": parameter.units,
        "displayName": display,
    })
}

/// RFC 3339, a date-time without offset (UTC) or a date (its midnight, UTC).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            Some(date.and_hms_opt(0, 0, 0)?.and_utc())
        })
}

/// The hour now in, counted from the epoch.
fn current_hour(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(3600)
}

fn at(hour: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::hours(hour)
}

/// `{"utc": .., "local": ..}`, local being Huế's time (UTC+7).
fn stamp(time: DateTime<Utc>) -> Value {
    json!({
        "utc": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "local": (time + TimeDelta::hours(7)).format("%Y-%m-%dT%H:%M:%S+07:00").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;

    use super::*;
    use crate::gateway::testing::{self, Answer};

    fn app() -> Router {
        Router::new().nest("/sandbox/openaq", router())
    }

    async fn get(app: &Router, uri: &str, key: Option<&str>) -> Answer {
        let mut request = Request::get(format!("/sandbox/openaq{uri}"));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        testing::send(app, request.body(Body::empty()).unwrap()).await
    }

    /// The sensor's hours from `back` hours ago up to the current hour.
    async fn hours(app: &Router, sensor: u64, back: i64, rest: &str) -> Answer {
        let current = current_hour(Utc::now());
        let (from, to) = (utc(current - back), utc(current));
        let uri = format!("/v3/sensors/{sensor}/hours?datetime_from={from}&datetime_to={to}{rest}");
        get(app, &uri, Some("test-key")).await
    }

    async fn put(app: &Router, sensor: u64, body: Value) -> StatusCode {
        let request = Request::put(format!("/sandbox/openaq/test/sensors/{sensor}/hours"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()));
        testing::send(app, request.unwrap()).await.status
    }

    fn utc(hour: i64) -> String {
        at(hour).format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    fn values(answer: &Answer) -> Vec<f64> {
        let results = answer.json()["results"].as_array().unwrap().clone();
        results
            .iter()
            .map(|r| r["value"].as_f64().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn without_an_api_key_everything_is_unauthorized() {
        let app = app();
        for key in [None, Some(""), Some("  ")] {
            for uri in ["/v3/locations/900101/sensors", "/v3/sensors/9001011/hours"] {
                let answer = get(&app, uri, key).await;
                assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{uri}");
                assert_eq!(answer.json(), json!({ "detail": UNAUTHORIZED }));
            }
        }
    }

    #[tokio::test]
    async fn a_locations_sensors_are_listed_with_their_parameters() {
        let app = app();
        let answer = get(&app, "/v3/locations/900101/sensors", Some("k")).await;
        assert_eq!(answer.status, StatusCode::OK);
        let body = answer.json();
        assert_eq!(
            body["meta"],
            json!({"name":"openaq-api","website":"/","page":1,"limit":100,"found":6})
        );
        let ids: Vec<&Value> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["id"])
            .collect();
        assert_eq!(
            ids,
            [
                9_001_011, 9_001_012, 9_001_013, 9_001_014, 9_001_015, 9_001_016
            ]
        );
        let pm25 = &body["results"][0];
        assert_eq!(pm25["name"], "pm25 µg/m³");
        assert_eq!(
            pm25["parameter"],
            json!({"id":2,"name":"pm25","units":"µg/m³","displayName":"PM2.5"})
        );
        assert!(pm25["latest"]["value"].is_f64());
        assert_eq!(body["results"][3]["parameter"]["id"], 8);
        assert_eq!(body["results"][3]["parameter"]["units"], "ppm");
        // The offline sensor's latest value is OFFLINE_HOURS old.
        let coast = get(&app, "/v3/locations/900103/sensors", Some("k"))
            .await
            .json();
        let offline_end = coast["results"][0]["datetimeLast"]["utc"].as_str().unwrap();
        assert_eq!(offline_end, utc(current_hour(Utc::now()) - OFFLINE_HOURS));
        let missing = get(&app, "/v3/locations/42/sensors", Some("k")).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.json(), json!({ "detail": "Location not found" }));
    }

    #[tokio::test]
    async fn hours_come_oldest_first_in_openaqs_shape() {
        let app = app();
        let answer = hours(&app, CENTRE_PM25_SENSOR_ID, 24, "").await;
        assert_eq!(answer.status, StatusCode::OK);
        let body = answer.json();
        assert_eq!(body["meta"]["found"], 24);
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), 24);
        let current = current_hour(Utc::now());
        let first = &results[0];
        assert_eq!(first["flagInfo"], json!({ "hasFlags": false }));
        assert_eq!(
            first["parameter"],
            json!({"id":2,"name":"pm25","units":"µg/m³","displayName":null})
        );
        assert_eq!(first["period"]["label"], "1hour");
        assert_eq!(first["period"]["interval"], "01:00:00");
        assert_eq!(first["period"]["datetimeFrom"]["utc"], utc(current - 24));
        assert_eq!(first["period"]["datetimeTo"]["utc"], utc(current - 23));
        let local = (at(current - 24) + TimeDelta::hours(7))
            .format("%Y-%m-%dT%H:%M:%S+07:00")
            .to_string();
        assert_eq!(first["period"]["datetimeFrom"]["local"], local);
        assert_eq!(first["coverage"]["percentComplete"], 100.0);
        assert_eq!(
            first["coverage"]["datetimeTo"],
            first["period"]["datetimeTo"]
        );
        assert!(first["coordinates"].is_null() && first["summary"].is_null());
        assert_eq!(results[23]["period"]["datetimeTo"]["utc"], utc(current));
        let pm25 = values(&answer);
        assert!(pm25.iter().all(|v| (15.0..=45.0).contains(v)), "{pm25:?}");
        // Rush hours (07:00 and 19:00 local) are dirtier than the small hours (02:00).
        let local_hour = |i: usize| (current - 24 + i as i64 + 7).rem_euclid(24);
        let at_local = |h: i64| pm25[(0..24).find(|i| local_hour(*i) == h).unwrap()];
        assert!(at_local(7) > at_local(2) && at_local(19) > at_local(2));
        let industrial = values(&hours(&app, INDUSTRIAL_PM25_SENSOR_ID, 24, "").await);
        assert!(
            industrial.iter().all(|v| (55.0..=90.0).contains(v)),
            "{industrial:?}"
        );
        // The same every time; and an unknown sensor is not found.
        assert_eq!(
            values(&hours(&app, CENTRE_PM25_SENSOR_ID, 24, "").await),
            pm25
        );
        let missing = get(&app, "/v3/sensors/123/hours", Some("k")).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.json(), json!({ "detail": "Sensor not found" }));
    }

    #[tokio::test]
    async fn hours_page_and_stop_thirty_days_back() {
        let app = app();
        let all = values(&hours(&app, CENTRE_PM25_SENSOR_ID, 24, "").await);
        let page = hours(&app, CENTRE_PM25_SENSOR_ID, 24, "&limit=10&page=2")
            .await
            .json();
        assert_eq!(page["meta"]["page"], 2);
        assert_eq!(page["meta"]["limit"], 10);
        assert_eq!(page["meta"]["found"], 24);
        let second = page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["value"]);
        assert_eq!(
            second.map(|v| v.as_f64().unwrap()).collect::<Vec<_>>(),
            all[10..20]
        );
        let last = hours(&app, CENTRE_PM25_SENSOR_ID, 24, "&limit=10&page=3").await;
        assert_eq!(values(&last), all[20..]);
        let beyond = hours(&app, CENTRE_PM25_SENSOR_ID, 24, "&limit=10&page=4").await;
        assert!(values(&beyond).is_empty());
        let month = hours(&app, CENTRE_PM25_SENSOR_ID, 40 * 24, "&limit=1000")
            .await
            .json();
        assert_eq!(month["meta"]["found"], HISTORY_DAYS * 24);

        let too_many = hours(&app, CENTRE_PM25_SENSOR_ID, 24, "&limit=5000").await;
        assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            too_many.json(),
            json!({"detail":[{"type":"less_than_equal","loc":["query","limit"],"msg":"Input should be less than or equal to 1000","input":"5000"}]})
        );
        for rest in ["&limit=0", "&page=0", "&limit=ten"] {
            let refused = hours(&app, CENTRE_PM25_SENSOR_ID, 24, rest).await;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{rest}");
        }
        let bad_time = get(
            &app,
            "/v3/sensors/9001011/hours?datetime_from=yesterday",
            Some("k"),
        )
        .await;
        assert_eq!(bad_time.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            bad_time.json()["detail"][0]["loc"],
            json!(["query", "datetime_from"])
        );
    }

    #[tokio::test]
    async fn the_coast_pm25_sensor_is_silent_for_the_last_six_hours() {
        let app = app();
        let current = current_hour(Utc::now());
        let offline = hours(&app, OFFLINE_SENSOR_ID, 12, "").await.json();
        let results = offline["results"].as_array().unwrap();
        assert_eq!(results.len() as i64, 12 - OFFLINE_HOURS);
        assert_eq!(
            results.last().unwrap()["period"]["datetimeTo"]["utc"],
            utc(current - OFFLINE_HOURS)
        );
        assert_eq!(
            values(&hours(&app, COAST_PM10_SENSOR_ID, 12, "").await).len(),
            12
        );
    }

    #[tokio::test]
    async fn tests_can_replace_hours_and_bring_the_generated_ones_back() {
        let app = app();
        let current = current_hour(Utc::now());
        let generated = values(&hours(&app, CENTRE_PM25_SENSOR_ID, 4, "").await);
        let body = json!([
            { "from": utc(current - 2), "value": 120.5 },
            { "from": utc(current - 3), "value": null },
        ]);
        assert_eq!(
            put(&app, CENTRE_PM25_SENSOR_ID, body).await,
            StatusCode::NO_CONTENT
        );
        let replaced = values(&hours(&app, CENTRE_PM25_SENSOR_ID, 4, "").await);
        assert_eq!(replaced, [generated[0], 120.5, generated[3]]);
        // The offline sensor can be brought back for an hour, too.
        let back = json!([{ "from": utc(current - 1), "value": 33.0 }]);
        put(&app, OFFLINE_SENSOR_ID, back).await;
        assert_eq!(values(&hours(&app, OFFLINE_SENSOR_ID, 2, "").await), [33.0]);

        let hook = "/sandbox/openaq/test/sensors/9001011/hours";
        let request = Request::delete(hook).body(Body::empty()).unwrap();
        assert_eq!(
            testing::send(&app, request).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            values(&hours(&app, CENTRE_PM25_SENSOR_ID, 4, "").await),
            generated
        );
        let midway = json!([{ "from": "2026-12-07T00:30:00Z", "value": 1.0 }]);
        assert_eq!(
            put(&app, OFFLINE_SENSOR_ID, midway).await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[tokio::test]
    async fn faults_go_down_and_garbled_then_back_to_normal() {
        // Through the sandboxes' router, as the service reaches it.
        let app = crate::router();
        let fault = async |body| {
            testing::post_json(&app, "/sandbox/openaq/faults", &body)
                .await
                .status
        };
        let uri = "/v3/locations/900102/sensors";
        assert_eq!(
            fault(json!({ "mode": "down", "times": 1 })).await,
            StatusCode::NO_CONTENT
        );
        let down = get(&app, uri, Some("k")).await;
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.headers["retry-after"], "30");
        fault(json!({ "mode": "garbage" })).await;
        let garbage = get(&app, uri, Some("k")).await;
        assert_eq!(garbage.status, StatusCode::OK);
        assert!(serde_json::from_str::<Value>(&garbage.body).is_err());
        fault(json!({ "mode": null })).await;
        assert_eq!(get(&app, uri, Some("k")).await.json()["meta"]["found"], 3);
    }
}
