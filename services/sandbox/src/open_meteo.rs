//! Open-Meteo's forecast API (<https://open-meteo.com/en/docs>), standing in for the weather
//! forecast Huế's environment service polls:
//!
//! - `GET /v1/forecast?latitude=..&longitude=..&hourly=a,b&daily=c,d&timezone=..&forecast_days=7`
//!   answers `200` JSON in Open-Meteo's shape: `latitude`, `longitude` (rounded to the 0.01°
//!   grid), `generationtime_ms`, `utc_offset_seconds`, `timezone`, `timezone_abbreviation`,
//!   `elevation`, then `hourly_units` and `hourly` (24 × `forecast_days` entries from local
//!   midnight today, `time` as `YYYY-MM-DDTHH:MM` local) when `hourly` is asked, and
//!   `daily_units` and `daily` (`forecast_days` entries, `time` as `YYYY-MM-DD`) when `daily`
//!   is; only the variables asked appear. Variables: [`HOURLY`] and [`DAILY`], listed with
//!   commas or repeated. `timezone` is `Asia/Ho_Chi_Minh` (`25200`, `GMT+7`) or `GMT`/`UTC`
//!   (`0`, the default); `forecast_days` `0..=16`, 7 unless given.
//! - Errors are `400 {"error":true,"reason":".."}`: an unknown variable ("Cannot initialize
//!   WeatherVariable from invalid String value foo for key hourly"), a latitude or longitude
//!   missing or out of range ("Latitude must be in range of -90 to 90°. Given: 91.0."), an
//!   unknown timezone, `forecast_days` out of range.
//! - `POST /faults` `{"mode": "down"|"slow"|"garbage"|null, "times": n, "delay_ms": n,
//!   "retry_after_secs": n}` as the other sandboxes: `down` is `503` with `Retry-After` (30 s
//!   unless told), `slow` answers `delay_ms` late (10 s unless told), `garbage` is `200
//!   application/json` cut off midway.
//!
//! The weather is Huế's in December, the rainy season: 18-27 °C, humidity 75-98 %, rain most
//! days (WMO codes 3, 51, 53, 61, 63, 80, 81, 95; 65 on the heavy-rain day only), generated from the date, the local hour and
//! the grid cell, so the same on every start. It follows the wall clock of the timezone asked
//! for, so that day [`HEAVY_RAIN_DAY_OFFSET`] and day [`COLD_DAY_OFFSET`] after today are the
//! warning days whichever is asked. Daily values are the hourly ones summed up: the maximum
//! and minimum of the day's temperatures, the sum of its precipitation, the maximum of its
//! probabilities and winds, and its most severe weather code.

use std::f64::consts::PI;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Datelike, Days, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use crate::faults::{Faults, Outage, OutageRequest};
use crate::gateway::unit;

/// Today + 2 (the forecast's third day): rain every hour, `precipitation_sum` at least
/// 100 mm, `weather_code` 65 (heavy rain).
pub const HEAVY_RAIN_DAY_OFFSET: i64 = 2;
/// Today + 4 (the fifth day): a cold surge of the north-east monsoon, `temperature_2m_max` at
/// most 15 °C and `temperature_2m_min` at most 12 °C.
pub const COLD_DAY_OFFSET: i64 = 4;
/// Huế's centre, as the service asks for it.
pub const HUE: (f64, f64) = (16.46, 107.59);
pub const ELEVATION_M: f64 = 12.0;
/// The hourly variables served, with their units.
pub const HOURLY: [(&str, &str); 6] = [
    ("temperature_2m", "°C"),
    ("relative_humidity_2m", "%"),
    ("precipitation_probability", "%"),
    ("precipitation", "mm"),
    ("weather_code", "wmo code"),
    ("wind_speed_10m", "km/h"),
];
/// The daily variables served, with their units.
pub const DAILY: [(&str, &str); 6] = [
    ("weather_code", "wmo code"),
    ("temperature_2m_max", "°C"),
    ("temperature_2m_min", "°C"),
    ("precipitation_sum", "mm"),
    ("precipitation_probability_max", "%"),
    ("wind_speed_10m_max", "km/h"),
];

/// What a cut connection leaves of a forecast.
const GARBAGE: &str = r#"{"latitude":16.46,"longitude":107.59,"generationtime_ms":0.05,"utc_of"#;

pub fn router() -> Router {
    Router::new()
        .route("/v1/forecast", get(forecast))
        .route("/faults", post(set_faults))
        .with_state(Arc::new(Faults::<Outage>::default()))
}

async fn set_faults(
    State(faults): State<Arc<Faults<Outage>>>,
    Json(request): Json<OutageRequest>,
) -> StatusCode {
    faults.apply(request)
}

async fn forecast(
    State(faults): State<Arc<Faults<Outage>>>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(outage) = faults.due(GARBAGE).await {
        return outage;
    }
    match Asked::parse(query.as_deref().unwrap_or("")) {
        Ok(asked) => Json(answer(&asked, Utc::now().naive_utc())).into_response(),
        Err(reason) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": true, "reason": reason })),
        )
            .into_response(),
    }
}

/// A forecast request, checked as Open-Meteo checks it.
struct Asked {
    /// Rounded to the grid, in hundredths of a degree.
    cell: (i64, i64),
    hourly: Vec<&'static str>,
    daily: Vec<&'static str>,
    /// (name, offset in seconds, abbreviation).
    zone: (&'static str, i64, &'static str),
    days: u64,
}

impl Asked {
    fn parse(query: &str) -> Result<Self, String> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let last = |key: &str| pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v);
        let degrees = |key: &str, name: &str, limit: f64| {
            let value = last(key)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .ok_or_else(|| format!("Value of type 'Float' required for key '{key}'."))?;
            if !(-limit..=limit).contains(&value) {
                return Err(format!(
                    "{name} must be in range of -{limit} to {limit}°. Given: {value:?}."
                ));
            }
            Ok((value * 100.0).round() as i64)
        };
        let latitude = degrees("latitude", "Latitude", 90.0)?;
        let longitude = degrees("longitude", "Longitude", 180.0)?;
        let variables = |key: &str, known: &[(&'static str, &str)], kind: &str| {
            let mut chosen: Vec<&'static str> = Vec::new();
            let asked = pairs.iter().filter(|(k, _)| k == key);
            for name in asked.flat_map(|(_, v)| v.split(',')).map(str::trim) {
                if name.is_empty() {
                    continue;
                }
                let Some((known, _)) = known.iter().find(|(k, _)| *k == name) else {
                    return Err(format!(
                        "Cannot initialize {kind} from invalid String value {name} for key {key}"
                    ));
                };
                if !chosen.contains(known) {
                    chosen.push(known);
                }
            }
            Ok(chosen)
        };
        let hourly = variables("hourly", &HOURLY, "WeatherVariable")?;
        let daily = variables("daily", &DAILY, "ForecastVariableDaily")?;
        let zone = match last("timezone").map(String::as_str) {
            None | Some("GMT" | "UTC") => ("GMT", 0, "GMT"),
            Some("Asia/Ho_Chi_Minh") => ("Asia/Ho_Chi_Minh", 25_200, "GMT+7"),
            Some(other) => return Err(format!("Invalid timezone '{other}'")),
        };
        let days = match last("forecast_days") {
            None => 7,
            Some(given) => given
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|d| *d <= 16)
                .ok_or_else(|| {
                    format!("Forecast days is invalid. Allowed range 0 to 16. Given {given}.")
                })?,
        };
        Ok(Self {
            cell: (latitude, longitude),
            hourly,
            daily,
            zone,
            days,
        })
    }
}

/// The forecast asked for, at `now` (UTC).
fn answer(asked: &Asked, now: chrono::NaiveDateTime) -> Value {
    let (zone, offset, abbreviation) = asked.zone;
    let today = (now + chrono::Duration::seconds(offset)).date();
    let dates: Vec<NaiveDate> = (0..asked.days)
        .filter_map(|d| today.checked_add_days(Days::new(d)))
        .collect();
    let days: Vec<[Hour; 24]> = dates
        .iter()
        .zip(0..)
        .map(|(date, offset)| {
            std::array::from_fn(|h| weather(*date, h as u32, asked.cell, kind(offset)))
        })
        .collect();
    let mut out = Map::new();
    out.insert("latitude".into(), json!(asked.cell.0 as f64 / 100.0));
    out.insert("longitude".into(), json!(asked.cell.1 as f64 / 100.0));
    out.insert("generationtime_ms".into(), json!(0.05));
    out.insert("utc_offset_seconds".into(), json!(offset));
    out.insert("timezone".into(), json!(zone));
    out.insert("timezone_abbreviation".into(), json!(abbreviation));
    out.insert("elevation".into(), json!(ELEVATION_M));
    if !asked.hourly.is_empty() {
        let times = dates
            .iter()
            .flat_map(|d| (0..24).map(move |h| format!("{}T{h:02}:00", d.format("%Y-%m-%d"))));
        let hours = days.iter().flatten();
        let (units, values) = section(&asked.hourly, &HOURLY, times.collect(), |name| {
            hours.clone().map(|h| h.value(name)).collect()
        });
        out.insert("hourly_units".into(), units);
        out.insert("hourly".into(), values);
    }
    if !asked.daily.is_empty() {
        let times = dates.iter().map(|d| d.format("%Y-%m-%d").to_string());
        let (units, values) = section(&asked.daily, &DAILY, times.collect(), |name| {
            days.iter().map(|day| summary(day, name)).collect()
        });
        out.insert("daily_units".into(), units);
        out.insert("daily".into(), values);
    }
    Value::Object(out)
}

/// `{"time": "iso8601", <name>: <unit>..}` and `{"time": [..], <name>: [..]..}`.
fn section(
    asked: &[&str],
    known: &[(&str, &str)],
    times: Vec<String>,
    values: impl Fn(&str) -> Vec<Value>,
) -> (Value, Value) {
    let mut units = Map::from_iter([("time".to_owned(), json!("iso8601"))]);
    let mut series = Map::from_iter([("time".to_owned(), json!(times))]);
    for name in asked {
        let unit = known
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, u)| *u);
        units.insert((*name).to_owned(), json!(unit));
        series.insert((*name).to_owned(), Value::Array(values(name)));
    }
    (Value::Object(units), Value::Object(series))
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Ordinary,
    HeavyRain,
    Cold,
}

fn kind(offset: i64) -> Kind {
    match offset {
        HEAVY_RAIN_DAY_OFFSET => Kind::HeavyRain,
        COLD_DAY_OFFSET => Kind::Cold,
        _ => Kind::Ordinary,
    }
}

/// One hour's weather, rounded as Open-Meteo rounds it.
#[derive(Clone, Copy)]
struct Hour {
    temperature: f64,
    humidity: i64,
    probability: i64,
    precipitation: f64,
    code: i64,
    wind: f64,
}

impl Hour {
    fn value(&self, name: &str) -> Value {
        match name {
            "temperature_2m" => json!(self.temperature),
            "relative_humidity_2m" => json!(self.humidity),
            "precipitation_probability" => json!(self.probability),
            "precipitation" => json!(self.precipitation),
            "weather_code" => json!(self.code),
            _ => json!(self.wind),
        }
    }
}

/// A day's value of a daily variable, from its hours.
fn summary(day: &[Hour; 24], name: &str) -> Value {
    let max = |f: fn(&Hour) -> f64| day.iter().map(f).fold(f64::MIN, f64::max);
    match name {
        "weather_code" => json!(day.iter().map(|h| h.code).max().unwrap_or(0)),
        "temperature_2m_max" => json!(max(|h| h.temperature)),
        "temperature_2m_min" => json!(day.iter().map(|h| h.temperature).fold(f64::MAX, f64::min)),
        "precipitation_sum" => json!(tenths(day.iter().map(|h| h.precipitation).sum())),
        "precipitation_probability_max" => {
            json!(day.iter().map(|h| h.probability).max().unwrap_or(0))
        }
        _ => json!(max(|h| h.wind)),
    }
}

/// The weather at `hour` (local) of `date` in a grid cell.
fn weather(date: NaiveDate, hour: u32, cell: (i64, i64), kind: Kind) -> Hour {
    let day = [
        u64::from(date.num_days_from_ce().unsigned_abs()),
        cell.0 as u64,
        cell.1 as u64,
    ];
    let daily = |salt: u64| unit(&[salt, day[0], day[1], day[2], 24]);
    let hourly = |salt: u64| unit(&[salt, day[0], day[1], day[2], u64::from(hour)]);
    // 1 at 14:00, the warmest, -1 at 02:00.
    let diurnal = (2.0 * PI * (f64::from(hour) - 14.0) / 24.0).cos();
    let wetness = daily(3);
    let temperature = match kind {
        Kind::Cold => 11.5 + 1.5 * diurnal,
        _ => 22.5 + 3.0 * diurnal + (daily(1) - 0.5) * 2.0,
    } + (hourly(2) - 0.5) * 0.6;
    let chance = match kind {
        Kind::Ordinary => 0.25 + 0.5 * wetness,
        Kind::HeavyRain => 1.0,
        Kind::Cold => 0.6,
    };
    let rains = hourly(4) < chance;
    let precipitation = match kind {
        _ if !rains => 0.0,
        // At least 5 mm every hour, and over 7.6 mm (heavy) in the afternoon.
        Kind::HeavyRain => {
            5.0 + hourly(5) * 5.0 + if (12..=15).contains(&hour) { 3.0 } else { 0.0 }
        }
        Kind::Cold => 0.1 + hourly(5) * 1.5,
        Kind::Ordinary => 0.1 + hourly(5) * (0.5 + 5.0 * wetness),
    };
    let precipitation = tenths(precipitation).max(if rains { 0.1 } else { 0.0 });
    // Afternoon showers and thunder on convective days; steady rain otherwise.
    let showery = kind == Kind::Ordinary && daily(6) < 0.4 && (12..=18).contains(&hour);
    let code = match precipitation {
        mm if mm <= 0.0 => 3,
        mm if showery && mm >= 4.0 => 95,
        mm if showery && mm < 2.5 => 80,
        _ if showery => 81,
        mm if mm < 0.5 => 51,
        mm if mm < 1.0 => 53,
        mm if mm < 2.5 => 61,
        mm if mm < 7.6 => 63,
        _ => 65,
    };
    let probability = match kind {
        Kind::HeavyRain => 90.0 + hourly(7) * 10.0,
        _ if rains => 55.0 + hourly(7) * 45.0,
        _ => chance * 80.0 + hourly(7) * 15.0,
    };
    let humidity = if rains {
        88.0 + hourly(8) * 10.0
    } else {
        80.0 - 5.0 * diurnal + hourly(8) * 8.0
    };
    let wind = match kind {
        Kind::HeavyRain => 18.0 + hourly(9) * 14.0,
        Kind::Cold => 14.0 + hourly(9) * 10.0,
        Kind::Ordinary => 6.0 + 2.0 * diurnal + hourly(9) * 8.0,
    };
    Hour {
        temperature: tenths(temperature),
        humidity: humidity.round().clamp(75.0, 98.0) as i64,
        probability: probability.round().min(100.0) as i64,
        precipitation,
        code,
        wind: tenths(wind),
    }
}

fn tenths(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::testing::{self, Answer};

    const HUE_QUERY: &str = "latitude=16.4637&longitude=107.5909&timezone=Asia%2FHo_Chi_Minh";

    fn app() -> Router {
        Router::new().nest("/sandbox/open-meteo", router())
    }

    /// Every variable, hourly and daily.
    fn everything() -> String {
        let names = |known: [(&'static str, &str); 6]| known.map(|(n, _)| n).join(",");
        format!("hourly={}&daily={}", names(HOURLY), names(DAILY))
    }

    async fn ask(app: &Router, query: &str) -> Answer {
        testing::get(app, &format!("/sandbox/open-meteo/v1/forecast?{query}")).await
    }

    fn numbers(value: &Value) -> Vec<f64> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_forecast_has_open_meteos_shape_and_only_the_variables_asked() {
        let app = app();
        let answer = ask(&app, &format!("{HUE_QUERY}&{}", everything())).await;
        assert_eq!(answer.status, StatusCode::OK);
        let body = answer.json();
        assert_eq!(
            (&body["latitude"], &body["longitude"]),
            (&json!(16.46), &json!(107.59))
        );
        assert_eq!(body["utc_offset_seconds"], 25_200);
        assert_eq!(body["timezone"], "Asia/Ho_Chi_Minh");
        assert_eq!(body["timezone_abbreviation"], "GMT+7");
        assert_eq!(body["elevation"], ELEVATION_M);
        assert!(body["generationtime_ms"].is_f64());
        for (section, known, entries) in [("hourly", HOURLY, 7 * 24), ("daily", DAILY, 7)] {
            assert_eq!(body[format!("{section}_units")]["time"], "iso8601");
            for (name, unit) in known {
                assert_eq!(body[format!("{section}_units")][name], unit);
                assert_eq!(
                    body[section][name].as_array().unwrap().len(),
                    entries,
                    "{name}"
                );
            }
        }
        let today = (Utc::now() + chrono::Duration::hours(7)).date_naive();
        assert_eq!(body["hourly"]["time"][0], format!("{today}T00:00"));
        assert_eq!(body["hourly"]["time"][23], format!("{today}T23:00"));
        assert_eq!(body["daily"]["time"][0], today.to_string());
        // Only what is asked: nothing daily when nothing daily is asked; GMT unless told.
        let query = "latitude=16.46&longitude=107.59&hourly=precipitation&forecast_days=2";
        let answer = ask(&app, query).await.json();
        let hourly = answer["hourly"].as_object().unwrap();
        assert_eq!(hourly.keys().collect::<Vec<_>>(), ["precipitation", "time"]);
        assert_eq!(hourly["time"].as_array().unwrap().len(), 48);
        assert_eq!(answer["timezone"], "GMT");
        assert!(answer.get("daily").is_none() && answer.get("daily_units").is_none());
        // Asked in GMT, day 3 of that forecast is the heavy-rain day too.
        let gmt = ask(&app, "latitude=16.46&longitude=107.59&daily=weather_code").await;
        assert_eq!(
            gmt.json()["daily"]["weather_code"][HEAVY_RAIN_DAY_OFFSET as usize],
            65
        );
    }

    #[test]
    fn daily_values_agree_with_the_hourly_ones_and_the_warning_days_hold_all_year() {
        let asked = Asked::parse(&format!("{HUE_QUERY}&{}", everything())).unwrap();
        let start = NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(3, 0, 0)
            .unwrap();
        for n in 0..366 {
            let body = answer(&asked, start + chrono::Duration::days(n));
            let (hourly, daily) = (&body["hourly"], &body["daily"]);
            for day in 0..7 {
                let hours = |name: &str| numbers(&hourly[name])[day * 24..day * 24 + 24].to_vec();
                let max = |name: &str| hours(name).into_iter().fold(f64::MIN, f64::max);
                let on_day = |name: &str| daily[name][day].as_f64().unwrap();
                assert_eq!(on_day("temperature_2m_max"), max("temperature_2m"));
                let min = hours("temperature_2m").into_iter().fold(f64::MAX, f64::min);
                assert_eq!(on_day("temperature_2m_min"), min);
                let sum: f64 = hours("precipitation").iter().sum();
                assert!((on_day("precipitation_sum") - sum).abs() < 0.05);
                let probability = max("precipitation_probability");
                assert_eq!(on_day("precipitation_probability_max"), probability);
                assert_eq!(on_day("wind_speed_10m_max"), max("wind_speed_10m"));
                assert_eq!(on_day("weather_code"), max("weather_code"));
                for code in hours("weather_code") {
                    assert!([3., 51., 53., 61., 63., 65., 80., 81., 95.].contains(&code));
                }
                assert!(
                    hours("relative_humidity_2m")
                        .iter()
                        .all(|h| (75.0..=98.0).contains(h))
                );
                match day as i64 {
                    HEAVY_RAIN_DAY_OFFSET => {
                        assert!(on_day("precipitation_sum") >= 100.0);
                        assert_eq!(on_day("weather_code"), 65.0);
                    }
                    COLD_DAY_OFFSET => {
                        assert!(on_day("temperature_2m_max") <= 15.0);
                        assert!(on_day("temperature_2m_min") <= 12.0);
                    }
                    _ => {
                        assert!(min >= 18.0 && max("temperature_2m") <= 27.0);
                        assert!(on_day("precipitation_sum") < 100.0);
                        assert_ne!(on_day("weather_code"), 65.0);
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn bad_requests_get_open_meteos_errors() {
        let app = app();
        let cases = [
            (
                "latitude=91&longitude=107.59",
                "Latitude must be in range of -90 to 90°. Given: 91.0.",
            ),
            (
                "latitude=0&longitude=-180.5",
                "Longitude must be in range of -180 to 180°. Given: -180.5.",
            ),
            (
                "latitude=0&longitude=0&hourly=temperature_2m,foo",
                "Cannot initialize WeatherVariable from invalid String value foo for key hourly",
            ),
            (
                "longitude=107.59",
                "Value of type 'Float' required for key 'latitude'.",
            ),
        ];
        for (query, reason) in cases {
            let answer = ask(&app, query).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(answer.json(), json!({ "error": true, "reason": reason }));
        }
        for query in [
            "daily=rain_sum",
            "forecast_days=17",
            "timezone=Europe%2FBerlin",
        ] {
            let answer = ask(&app, &format!("latitude=16.46&longitude=107.59&{query}")).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(answer.json()["error"], true);
        }
        let none = ask(
            &app,
            "latitude=0&longitude=0&hourly=precipitation&forecast_days=0",
        )
        .await;
        assert_eq!(none.json()["hourly"]["precipitation"], json!([]));
    }

    #[tokio::test]
    async fn faults_go_down_and_garbled_then_back_to_normal() {
        // Through the sandboxes' router, as the service reaches it.
        let app = crate::router();
        let fault = async |body| {
            testing::post_json(&app, "/sandbox/open-meteo/faults", &body)
                .await
                .status
        };
        assert_eq!(
            fault(json!({ "mode": "down", "times": 1 })).await,
            StatusCode::NO_CONTENT
        );
        let down = ask(&app, HUE_QUERY).await;
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.headers["retry-after"], "30");
        fault(json!({ "mode": "garbage" })).await;
        let garbage = ask(&app, HUE_QUERY).await;
        assert_eq!(garbage.status, StatusCode::OK);
        assert!(serde_json::from_str::<Value>(&garbage.body).is_err());
        fault(json!({ "mode": null })).await;
        assert_eq!(ask(&app, HUE_QUERY).await.status, StatusCode::OK);
        assert_eq!(
            fault(json!({ "mode": "sideways" })).await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
