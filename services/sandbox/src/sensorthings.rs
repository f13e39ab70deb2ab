//! An OGC SensorThings API 1.1 server (<https://docs.ogc.org/is/18-088/18-088.html>),
//! standing in for the hydro-meteorological station's river gauges around Huế:
//!
//! - `GET /v1.1/Datastreams({id})/Observations`: `{"value": [{"@iot.id", "@iot.selfLink",
//!   "phenomenonTime", "resultTime", "result"}..], "@iot.nextLink": ".."}`, the link (absolute,
//!   the same query with `$skip` moved on) only while more remain. Query options, and only
//!   these: `$orderby=phenomenonTime asc|desc` (ascending unless told), `$top` `1..=1000` (100
//!   unless told), `$skip`, `$filter=phenomenonTime gt|ge <RFC 3339 time>`. Anything else is
//!   `400 {"code":400,"type":"error","message":".."}`; an unknown datastream is `404
//!   {"code":404,"type":"error","message":"Not Found"}`.
//! - `GET /v1.1/Datastreams({id})` and `GET /v1.1/Observations({id})`: the entity.
//! - `POST /v1.1/Observations` `{"Datastream":{"@iot.id":101},"phenomenonTime":"..Z",
//!   "result":3.6}` (`resultTime` optional) creates an observation: `201`, its URL in
//!   `Location`, the entity in the body. It is served with the generated ones from then on;
//!   tests raise a river past an alarm level with it. A body without these is `400`.
//! - For tests, not SensorThings: `DELETE /test/observations` drops the posted observations
//!   (`204`).
//! - `POST /faults` as the other sandboxes: `down` (`503`, `Retry-After` 30 s unless told),
//!   `slow` (`delay_ms`, 10 s unless told), `garbage` (`200 application/json` cut off midway).
//!
//! Each datastream holds a reading at the top of every hour for the last [`HISTORY_HOURS`]
//! hours, the latest at the hour just begun, from the datastream and the hour, the same on every
//! start: a slow swell over some days, a daily or tidal swing, and jitter.
//!
//! - Two river gauges, water levels in metres: [`KIM_LONG_DATASTREAM_ID`], the Hương river at
//!   Kim Long (0.25-0.96 m), and [`PHU_OC_DATASTREAM_ID`], the Bồ river at Phú Ốc (0.45-1.4 m):
//!   below their first alarm levels, as between floods (tests raise them by posting).
//! - Two surface-water quality stations: the Hương at the Vạn Niên water intake (datastreams
//!   201-208: temperature, pH, DO, BOD5, COD, N-NH4, P-PO4, coliforms), clean water as it is
//!   upstream of the city, and Tịnh Tâm lake (211-214: temperature, pH, DO, BOD5), too few
//!   parameters for an index. Tests foul the water by posting.

use std::f64::consts::PI;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::{Faults, Outage, OutageRequest};
use crate::gateway::{self, unit};

/// The Hương river at Kim Long, 0.25-0.96 m (alarm level I is 1.0 m).
pub const KIM_LONG_DATASTREAM_ID: u64 = 101;
/// The Bồ river at Phú Ốc, 0.45-1.4 m (alarm level I is 1.5 m).
pub const PHU_OC_DATASTREAM_ID: u64 = 102;
/// Hours of generated history: 14 days.
pub const HISTORY_HOURS: i64 = 14 * 24;
pub const DEFAULT_TOP: usize = 100;
pub const MAX_TOP: usize = 1000;

/// What a cut connection leaves of an answer.
const GARBAGE: &str = r#"{"value":[{"@iot.id":1,"@iot.selfLink":"http://"#;
/// The Vạn Niên station's water temperature, which its DO's saturation depends on.
pub const VAN_NIEN_TEMPERATURE_DATASTREAM_ID: u64 = 201;
/// The Vạn Niên station's ammonium (N-NH4), 0.16-0.24 mg/L: clean (at most 0.3 scores 100).
pub const VAN_NIEN_AMMONIUM_DATASTREAM_ID: u64 = 206;

/// One datastream and how its readings are generated: `mean + swell·sin(slow) + swing·sin(fast)`
/// plus jitter of ±3 % of `jitter`.
struct Datastream {
    id: u64,
    name: &'static str,
    description: &'static str,
    /// (name, symbol, definition), as SensorThings' `unitOfMeasurement`.
    unit: (&'static str, &'static str, &'static str),
    mean: f64,
    swell: f64,
    /// The tide for a river's level (12.42 h), the day for water quality (24 h).
    swing: f64,
    swing_hours: f64,
    phase: f64,
    jitter: f64,
}

const METRE: (&str, &str, &str) = ("metre", "m", "http://qudt.org/vocab/unit/M");
const CELSIUS: (&str, &str, &str) = ("degree Celsius", "°C", "http://qudt.org/vocab/unit/DEG_C");
const PH: (&str, &str, &str) = ("pH", "pH", "http://qudt.org/vocab/unit/PH");
const MG_PER_L: (&str, &str, &str) = (
    "milligram per litre",
    "mg/L",
    "http://qudt.org/vocab/unit/MilliGM-PER-L",
);
const MPN: (&str, &str, &str) = (
    "most probable number per 100 millilitres",
    "MPN/100mL",
    "http://qudt.org/vocab/unit/NUM-PER-100-MilliL",
);

#[rustfmt::skip]
const DATASTREAMS: [Datastream; 14] = [
    Datastream { id: KIM_LONG_DATASTREAM_ID, name: "Mực nước sông Hương tại Kim Long", description: "Water level of the Hương river at Kim Long", unit: METRE, mean: 0.6, swell: 0.25, swing: 0.08, swing_hours: 12.42, phase: 0.7, jitter: 1.0 },
    Datastream { id: PHU_OC_DATASTREAM_ID, name: "Mực nước sông Bồ tại Phú Ốc", description: "Water level of the Bồ river at Phú Ốc", unit: METRE, mean: 0.9, swell: 0.35, swing: 0.06, swing_hours: 12.42, phase: 2.1, jitter: 1.0 },
    Datastream { id: VAN_NIEN_TEMPERATURE_DATASTREAM_ID, name: "Nhiệt độ nước sông Hương tại Vạn Niên", description: "Water temperature of the Hương river at Vạn Niên", unit: CELSIUS, mean: 26.0, swell: 1.0, swing: 1.0, swing_hours: 24.0, phase: 0.3, jitter: 5.0 },
    Datastream { id: 202, name: "pH sông Hương tại Vạn Niên", description: "pH of the Hương river at Vạn Niên", unit: PH, mean: 7.2, swell: 0.2, swing: 0.1, swing_hours: 24.0, phase: 1.1, jitter: 2.0 },
    Datastream { id: 203, name: "Oxy hòa tan sông Hương tại Vạn Niên", description: "Dissolved oxygen of the Hương river at Vạn Niên", unit: MG_PER_L, mean: 7.3, swell: 0.2, swing: 0.2, swing_hours: 24.0, phase: 0.5, jitter: 2.0 },
    Datastream { id: 204, name: "BOD5 sông Hương tại Vạn Niên", description: "BOD5 of the Hương river at Vạn Niên", unit: MG_PER_L, mean: 2.5, swell: 0.5, swing: 0.2, swing_hours: 24.0, phase: 1.7, jitter: 2.0 },
    Datastream { id: 205, name: "COD sông Hương tại Vạn Niên", description: "COD of the Hương river at Vạn Niên", unit: MG_PER_L, mean: 6.0, swell: 1.0, swing: 0.5, swing_hours: 24.0, phase: 2.3, jitter: 3.0 },
    Datastream { id: VAN_NIEN_AMMONIUM_DATASTREAM_ID, name: "Amoni sông Hương tại Vạn Niên", description: "Ammonium (N-NH4) of the Hương river at Vạn Niên", unit: MG_PER_L, mean: 0.2, swell: 0.02, swing: 0.01, swing_hours: 24.0, phase: 0.9, jitter: 0.3 },
    Datastream { id: 207, name: "Phosphat sông Hương tại Vạn Niên", description: "Phosphate (P-PO4) of the Hương river at Vạn Niên", unit: MG_PER_L, mean: 0.06, swell: 0.01, swing: 0.005, swing_hours: 24.0, phase: 1.3, jitter: 0.1 },
    Datastream { id: 208, name: "Coliform sông Hương tại Vạn Niên", description: "Coliforms of the Hương river at Vạn Niên", unit: MPN, mean: 1500.0, swell: 300.0, swing: 100.0, swing_hours: 24.0, phase: 2.9, jitter: 200.0 },
    Datastream { id: 211, name: "Nhiệt độ nước hồ Tịnh Tâm", description: "Water temperature of Tịnh Tâm lake", unit: CELSIUS, mean: 27.0, swell: 1.0, swing: 1.2, swing_hours: 24.0, phase: 0.4, jitter: 5.0 },
    Datastream { id: 212, name: "pH hồ Tịnh Tâm", description: "pH of Tịnh Tâm lake", unit: PH, mean: 7.6, swell: 0.2, swing: 0.2, swing_hours: 24.0, phase: 1.0, jitter: 2.0 },
    Datastream { id: 213, name: "Oxy hòa tan hồ Tịnh Tâm", description: "Dissolved oxygen of Tịnh Tâm lake", unit: MG_PER_L, mean: 5.5, swell: 0.4, swing: 0.6, swing_hours: 24.0, phase: 0.2, jitter: 2.0 },
    Datastream { id: 214, name: "BOD5 hồ Tịnh Tâm", description: "BOD5 of Tịnh Tâm lake", unit: MG_PER_L, mean: 6.0, swell: 1.0, swing: 0.3, swing_hours: 24.0, phase: 1.9, jitter: 2.0 },
];

fn datastream(id: u64) -> Option<&'static Datastream> {
    DATASTREAMS.iter().find(|d| d.id == id)
}

#[derive(Clone, Copy)]
struct Observation {
    id: u64,
    datastream: u64,
    phenomenon: DateTime<Utc>,
    result_time: DateTime<Utc>,
    result: f64,
}

#[derive(Default)]
struct SensorThings {
    faults: Faults<Outage>,
    posted: Mutex<Vec<Observation>>,
    /// Ids of posted observations: small, where generated ones are the hour × 1000 + the
    /// datastream.
    next_id: AtomicU64,
}

pub fn router() -> Router {
    Router::new()
        .route("/v1.1/Observations", post(create))
        .route("/v1.1/{entity}", get(entity))
        .route("/v1.1/{datastream}/Observations", get(observations))
        .route("/test/observations", delete(drop_posted))
        .route("/faults", post(set_faults))
        .with_state(Arc::new(SensorThings::default()))
}

async fn set_faults(
    State(things): State<Arc<SensorThings>>,
    Json(request): Json<OutageRequest>,
) -> StatusCode {
    things.faults.apply(request)
}

async fn observations(
    State(things): State<Arc<SensorThings>>,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Some(outage) = things.faults.due(GARBAGE).await {
        return outage;
    }
    let Some(datastream) = key(&segment, "Datastreams") else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let options = match Options::parse(query.as_deref().unwrap_or("")) {
        Ok(options) => options,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let mut all = generated(datastream, Utc::now());
    let posted = things.posted.lock().unwrap_or_else(|p| p.into_inner());
    all.extend(posted.iter().filter(|o| o.datastream == datastream));
    drop(posted);
    all.retain(|o| match options.filter {
        Some((true, time)) => o.phenomenon >= time,
        Some((false, time)) => o.phenomenon > time,
        None => true,
    });
    all.sort_by_key(|o| (o.phenomenon, o.id));
    if options.descending {
        all.reverse();
    }
    let base = base_url(&headers);
    let value: Vec<Value> = all
        .iter()
        .skip(options.skip)
        .take(options.top)
        .map(|o| o.json(&base))
        .collect();
    let mut body = json!({ "value": value });
    if options.skip + options.top < all.len() {
        let next = options.query(options.skip + options.top);
        body["@iot.nextLink"] = json!(format!("{base}/{segment}/Observations?{next}"));
    }
    Json(body).into_response()
}

/// The query options served, as given.
struct Options {
    orderby: Option<String>,
    descending: bool,
    top: usize,
    skip: usize,
    filter_text: Option<String>,
    /// (inclusive, time).
    filter: Option<(bool, DateTime<Utc>)>,
}

impl Options {
    fn parse(query: &str) -> Result<Self, String> {
        let mut options = Options {
            orderby: None,
            descending: false,
            top: DEFAULT_TOP,
            skip: 0,
            filter_text: None,
            filter: None,
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "$orderby" => {
                    options.descending = match value.split_whitespace().collect::<Vec<_>>()[..] {
                        ["phenomenonTime"] | ["phenomenonTime", "asc"] => false,
                        ["phenomenonTime", "desc"] => true,
                        _ => {
                            return Err(format!(
                                "Not supported: $orderby={value}; only phenomenonTime asc or desc"
                            ));
                        }
                    };
                    options.orderby = Some(value.into_owned());
                }
                "$top" => {
                    options.top = value
                        .parse()
                        .ok()
                        .filter(|top| (1..=MAX_TOP).contains(top))
                        .ok_or_else(|| {
                            format!("Invalid $top: {value}; an integer from 1 to {MAX_TOP}")
                        })?;
                }
                "$skip" => {
                    options.skip = value
                        .parse()
                        .map_err(|_| format!("Invalid $skip: {value}"))?;
                }
                "$filter" => {
                    let time =
                        |text: &str| DateTime::parse_from_rfc3339(text).ok().map(|t| t.to_utc());
                    options.filter = match value.split_whitespace().collect::<Vec<_>>()[..] {
                        ["phenomenonTime", op @ ("gt" | "ge"), text] => {
                            time(text).map(|t| (op == "ge", t))
                        }
                        _ => None,
                    };
                    if options.filter.is_none() {
                        return Err(format!(
                            "Not supported: $filter={value}; only phenomenonTime gt|ge <time>"
                        ));
                    }
                    options.filter_text = Some(value.into_owned());
                }
                other if other.starts_with('$') => {
                    return Err(format!("Not supported: query option {other}"));
                }
                _ => {}
            }
        }
        Ok(options)
    }

    /// The same options from `skip` on, encoded as FROST encodes them (spaces as `%20`).
    fn query(&self, skip: usize) -> String {
        let encode = |v: &str| {
            form_urlencoded::byte_serialize(v.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        };
        let mut parts = Vec::new();
        if let Some(orderby) = &self.orderby {
            parts.push(format!("$orderby={}", encode(orderby)));
        }
        if let Some(filter) = &self.filter_text {
            parts.push(format!("$filter={}", encode(filter)));
        }
        parts.push(format!("$top={}", self.top));
        parts.push(format!("$skip={skip}"));
        parts.join("&")
    }
}

async fn entity(
    State(things): State<Arc<SensorThings>>,
    Path(segment): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(outage) = things.faults.due(GARBAGE).await {
        return outage;
    }
    let base = base_url(&headers);
    if let Some(stream) = key(&segment, "Datastreams").and_then(datastream) {
        let (id, (unit, symbol, definition)) = (stream.id, stream.unit);
        return Json(json!({
            "@iot.id": id,
            "@iot.selfLink": format!("{base}/Datastreams({id})"),
            "name": stream.name,
            "description": stream.description,
            "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
            "unitOfMeasurement": {
                "name": unit,
                "symbol": symbol,
                "definition": definition,
            },
            "Observations@iot.navigationLink": format!("{base}/Datastreams({id})/Observations"),
        }))
        .into_response();
    }
    let found = segment
        .strip_prefix("Observations(")
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|id| id.parse::<u64>().ok())
        .and_then(|id| {
            let posted = things.posted.lock().unwrap_or_else(|p| p.into_inner());
            let mine = posted.iter().find(|o| o.id == id).copied();
            mine.or_else(|| {
                generated(id % 1000, Utc::now())
                    .into_iter()
                    .find(|o| o.id == id)
            })
        });
    match found {
        Some(observation) => Json(observation.json(&base)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

#[derive(Deserialize)]
struct NewObservation {
    #[serde(rename = "Datastream")]
    datastream: Reference,
    #[serde(rename = "phenomenonTime")]
    phenomenon_time: String,
    #[serde(rename = "resultTime")]
    result_time: Option<String>,
    result: f64,
}

#[derive(Deserialize)]
struct Reference {
    #[serde(rename = "@iot.id")]
    id: u64,
}

async fn create(
    State(things): State<Arc<SensorThings>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(outage) = things.faults.due(GARBAGE).await {
        return outage;
    }
    let new: NewObservation = match serde_json::from_slice(&body) {
        Ok(new) => new,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid Observation: {e}"),
            );
        }
    };
    let id = new.datastream.id;
    if datastream(id).is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("No such entity 'Datastream' with id {id}"),
        );
    }
    let time = |text: &str| DateTime::parse_from_rfc3339(text).map(|t| t.to_utc());
    let (Ok(phenomenon), Ok(result_time)) = (
        time(&new.phenomenon_time),
        time(new.result_time.as_deref().unwrap_or(&new.phenomenon_time)),
    ) else {
        return error(StatusCode::BAD_REQUEST, "Invalid time: RFC 3339 expected");
    };
    let observation = Observation {
        id: things.next_id.fetch_add(1, Ordering::Relaxed) + 1,
        datastream: id,
        phenomenon,
        result_time,
        result: new.result,
    };
    things
        .posted
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(observation);
    let body = observation.json(&base_url(&headers));
    let location = body["@iot.selfLink"]
        .as_str()
        .and_then(|l| HeaderValue::from_str(l).ok());
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

async fn drop_posted(State(things): State<Arc<SensorThings>>) -> StatusCode {
    things
        .posted
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
    StatusCode::NO_CONTENT
}

impl Observation {
    fn json(&self, base: &str) -> Value {
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        json!({
            "@iot.id": self.id,
            "@iot.selfLink": format!("{base}/Observations({})", self.id),
            "phenomenonTime": time(self.phenomenon),
            "resultTime": time(self.result_time),
            "result": self.result,
        })
    }
}

/// The datastream's readings at the top of each of the last [`HISTORY_HOURS`] hours, up to
/// the one just begun; none for an unknown datastream.
fn generated(datastream: u64, now: DateTime<Utc>) -> Vec<Observation> {
    let Some(stream) = self::datastream(datastream) else {
        return Vec::new();
    };
    let current = now.timestamp().div_euclid(3600);
    (current - HISTORY_HOURS + 1..=current)
        .map(|hour| {
            let t = hour as f64;
            // A swell of some days, the tide or the day, and the sensor's jitter.
            let Datastream {
                mean,
                swell,
                swing,
                swing_hours,
                phase,
                jitter,
                ..
            } = *stream;
            let level = mean
                + swell * (2.0 * PI * t / (127.0 + 24.0 * phase) + phase).sin()
                + swing * (2.0 * PI * t / swing_hours).sin()
                + (unit(&[datastream, hour as u64]) - 0.5) * 0.06 * jitter;
            let time = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::hours(hour);
            Observation {
                id: hour as u64 * 1000 + datastream,
                datastream,
                phenomenon: time,
                result_time: time,
                result: (level * 100.0).round() / 100.0,
            }
        })
        .collect()
}

/// `n` of `<collection>(<n>)`, if the datastream is known.
fn key(segment: &str, collection: &str) -> Option<u64> {
    let id = segment
        .strip_prefix(collection)?
        .strip_prefix('(')?
        .strip_suffix(')')?;
    id.parse().ok().filter(|id| datastream(*id).is_some())
}

/// The service root, `http://<host>/sandbox/sensorthings/v1.1`, wherever it is reached.
fn base_url(headers: &HeaderMap) -> String {
    format!(
        "http://{}/sandbox/sensorthings/v1.1",
        gateway::host(headers)
    )
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({ "code": status.as_u16(), "type": "error", "message": message });
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;

    use super::*;
    use crate::gateway::testing::{self, Answer};

    const ROOT: &str = "http://sandbox.test/sandbox/sensorthings/v1.1";
    const NEWEST: &str = "$orderby=phenomenonTime%20desc";

    fn app() -> Router {
        Router::new().nest("/sandbox/sensorthings", router())
    }

    async fn ask(app: &Router, path_and_query: &str) -> Answer {
        testing::get(app, &format!("/sandbox/sensorthings/v1.1/{path_and_query}")).await
    }

    async fn observations(app: &Router, datastream: u64, query: &str) -> Value {
        ask(
            app,
            &format!("Datastreams({datastream})/Observations?{query}"),
        )
        .await
        .json()
    }

    async fn post(app: &Router, body: &Value) -> Answer {
        testing::post_json(app, "/sandbox/sensorthings/v1.1/Observations", body).await
    }

    fn stamp(hour: i64) -> String {
        let time = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::hours(hour);
        time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    fn current_hour() -> i64 {
        Utc::now().timestamp().div_euclid(3600)
    }

    fn times(body: &Value) -> Vec<&str> {
        let value = body["value"].as_array().unwrap().iter();
        value
            .map(|o| o["phenomenonTime"].as_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn observations_come_newest_first_in_sensorthings_shape() {
        let app = app();
        let answer = ask(
            &app,
            &format!("Datastreams(101)/Observations?{NEWEST}&$top=3"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
        let body = answer.json();
        let current = current_hour();
        assert_eq!(
            times(&body),
            [stamp(current), stamp(current - 1), stamp(current - 2)]
        );
        let latest = &body["value"][0];
        let id = latest["@iot.id"].as_u64().unwrap();
        assert_eq!(
            latest["@iot.selfLink"],
            format!("{ROOT}/Observations({id})")
        );
        assert_eq!(latest["resultTime"], latest["phenomenonTime"]);
        assert!(latest["result"].is_f64());
        // The whole fortnight, in range, oldest first unless told.
        for (datastream, range) in [(101, 0.2..=0.99), (102, 0.4..=1.45)] {
            let all = observations(&app, datastream, "$top=1000").await;
            assert!(all.get("@iot.nextLink").is_none());
            let value = all["value"].as_array().unwrap();
            assert_eq!(value.len() as i64, HISTORY_HOURS);
            assert_eq!(
                value[0]["phenomenonTime"],
                stamp(current - HISTORY_HOURS + 1)
            );
            assert!(
                value
                    .iter()
                    .all(|o| range.contains(&o["result"].as_f64().unwrap()))
            );
        }
        // The entities the links name are there too.
        assert_eq!(
            ask(&app, &format!("Observations({id})")).await.json(),
            *latest
        );
        let datastream = ask(&app, "Datastreams(102)").await.json();
        assert_eq!(datastream["unitOfMeasurement"]["symbol"], "m");
        let link = format!("{ROOT}/Datastreams(102)/Observations");
        assert_eq!(datastream["Observations@iot.navigationLink"], link);
    }

    #[tokio::test]
    async fn pages_follow_the_next_link_and_filters_cut_by_time() {
        let app = app();
        let mut uri = format!("Datastreams(102)/Observations?{NEWEST}");
        let mut seen = Vec::new();
        loop {
            let page = ask(&app, &uri).await.json();
            seen.extend(times(&page).into_iter().map(str::to_owned));
            let Some(next) = page["@iot.nextLink"].as_str() else {
                break;
            };
            assert!(next.contains(&format!("$skip={}", seen.len())), "{next}");
            assert!(next.contains(NEWEST), "{next}");
            uri = next.strip_prefix(&format!("{ROOT}/")).unwrap().to_owned();
        }
        assert_eq!(seen.len() as i64, HISTORY_HOURS);
        assert!(seen.windows(2).all(|w| w[0] > w[1]));

        let current = current_hour();
        let since = stamp(current - 5);
        let after =
            observations(&app, 101, &format!("$filter=phenomenonTime%20gt%20{since}")).await;
        assert_eq!(times(&after).len(), 5);
        let from = format!("$filter=phenomenonTime%20ge%20{since}&$top=2");
        let from = observations(&app, 101, &from).await;
        assert_eq!(times(&from), [stamp(current - 5), stamp(current - 4)]);
        let next = from["@iot.nextLink"].as_str().unwrap();
        assert!(next.contains("$filter=phenomenonTime%20ge%20") && next.contains("$skip=2"));
    }

    #[tokio::test]
    async fn anything_else_is_a_sensorthings_error() {
        let app = app();
        for query in [
            "$filter=result%20gt%203",
            "$filter=phenomenonTime%20lt%202026-12-07T00:00:00Z",
            "$filter=phenomenonTime%20gt%20yesterday",
            "$top=0",
            "$top=1001",
            "$skip=-1",
            "$orderby=result%20desc",
            "$expand=Datastream",
        ] {
            let answer = ask(&app, &format!("Datastreams(101)/Observations?{query}")).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
            let body = answer.json();
            assert_eq!(
                (&body["code"], &body["type"]),
                (&json!(400), &json!("error"))
            );
            assert!(body["message"].is_string());
        }
        let not_found = json!({ "code": 404, "type": "error", "message": "Not Found" });
        for path in [
            "Datastreams(999)/Observations",
            "Things(101)/Observations",
            "Observations(5)",
        ] {
            let answer = ask(&app, path).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(answer.json(), not_found);
        }
    }

    #[tokio::test]
    async fn a_posted_observation_is_served_until_tests_drop_it() {
        let app = app();
        let later = stamp(current_hour() + 1);
        let body =
            json!({ "Datastream": { "@iot.id": 101 }, "phenomenonTime": later, "result": 3.6 });
        let created = post(&app, &body).await;
        assert_eq!(created.status, StatusCode::CREATED);
        let location = created.location().to_owned();
        assert!(
            location.starts_with(&format!("{ROOT}/Observations(")),
            "{location}"
        );
        let latest = &observations(&app, 101, &format!("{NEWEST}&$top=1")).await["value"][0];
        assert_eq!(latest["result"], 3.6);
        assert_eq!(latest["phenomenonTime"], later);
        assert_eq!(latest["@iot.selfLink"], location);
        let path = location.strip_prefix(&format!("{ROOT}/")).unwrap();
        assert_eq!(ask(&app, path).await.json()["result"], 3.6);
        // Only in its own datastream.
        let other = observations(&app, 102, &format!("{NEWEST}&$top=1")).await;
        assert_ne!(other["value"][0]["phenomenonTime"], later);

        for bad in [
            json!({ "Datastream": { "@iot.id": 999 }, "phenomenonTime": later, "result": 1.0 }),
            json!({ "Datastream": { "@iot.id": 101 }, "phenomenonTime": "soon", "result": 1.0 }),
            json!({ "phenomenonTime": later, "result": 1.0 }),
        ] {
            let refused = post(&app, &bad).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(refused.json()["code"], 400);
        }

        let request = Request::delete("/sandbox/sensorthings/test/observations");
        let dropped = testing::send(&app, request.body(Body::empty()).unwrap()).await;
        assert_eq!(dropped.status, StatusCode::NO_CONTENT);
        let latest = observations(&app, 101, &format!("{NEWEST}&$top=1")).await;
        assert_eq!(latest["value"][0]["phenomenonTime"], stamp(current_hour()));
        assert_eq!(ask(&app, path).await.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn faults_go_down_and_garbled_then_back_to_normal() {
        // Through the sandboxes' router, as the service reaches it.
        let app = crate::router();
        let fault = async |body| {
            testing::post_json(&app, "/sandbox/sensorthings/faults", &body)
                .await
                .status
        };
        let uri = "Datastreams(101)/Observations?$top=1";
        assert_eq!(
            fault(json!({ "mode": "down", "times": 1 })).await,
            StatusCode::NO_CONTENT
        );
        let down = ask(&app, uri).await;
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.headers["retry-after"], "30");
        fault(json!({ "mode": "garbage" })).await;
        let garbage = ask(&app, uri).await;
        assert_eq!(garbage.status, StatusCode::OK);
        assert!(serde_json::from_str::<Value>(&garbage.body).is_err());
        fault(json!({ "mode": null })).await;
        assert_eq!(
            ask(&app, uri).await.json()["value"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}
