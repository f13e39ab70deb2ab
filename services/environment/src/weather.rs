//! The weather forecast at a point: the next 48 hours and 7 days from an Open-Meteo forecast
//! API, in Vietnam's time, described in Vietnamese and English, with the warnings the national
//! hydro-meteorological service names (nắng nóng, rét đậm, mưa to) read off each day.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Timelike, Utc};
use platform::ApiError;
use platform::error::SharedError;
use platform::extract::QueryParams;
use platform::outbound::{Breaker, OutboundClient};
use platform::text::Text;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{EnvironmentError, EnvironmentState};

const HOURLY: &str = "temperature_2m,relative_humidity_2m,precipitation_probability,precipitation,weather_code,wind_speed_10m";
const DAILY: &str = "weather_code,temperature_2m_max,temperature_2m_min,precipitation_sum,precipitation_probability_max,wind_speed_10m_max";
const FORECAST_DAYS: usize = 7;
/// Vietnam and its seas, islands included.
const COVERAGE_LAT: std::ops::RangeInclusive<f64> = 6.0..=24.0;
const COVERAGE_LNG: std::ops::RangeInclusive<f64> = 102.0..=118.0;
const HOURS_SHOWN: usize = 48;
/// Forecasts are kept per cell of this many degrees (about 2 km): nearby residents share one.
const CELL_DEGREES: f64 = 0.02;
/// Places whose forecast is kept at once; a full cache forgets its oldest.
const CACHED_PLACES: usize = 4096;

/// A square of `CELL_DEGREES` on a side, by its centre in steps of `CELL_DEGREES`.
type Cell = (i32, i32);

/// The forecast source and what it answered lately.
pub struct Forecasts {
    base_url: String,
    client: OutboundClient,
    breaker: Breaker,
    keep_for: Duration,
    cache: Mutex<HashMap<Cell, (Instant, Arc<Upstream>)>>,
}

impl Forecasts {
    pub fn new(base_url: &str, client: OutboundClient, keep_for: Duration) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            client,
            breaker: Breaker::default(),
            keep_for,
            cache: Mutex::default(),
        }
    }

    /// The forecast of the cell `lat`, `lng` lies in, from memory while fresh.
    async fn at(&self, lat: f64, lng: f64) -> Result<Arc<Upstream>, ApiError> {
        let cell = (
            (lat / CELL_DEGREES).round() as i32,
            (lng / CELL_DEGREES).round() as i32,
        );
        if let Some(forecast) = self.fresh(cell) {
            return Ok(forecast);
        }
        if !self.breaker.allows() {
            return Err(SharedError::UpstreamUnavailable.into());
        }
        match self.fetch(cell).await {
            Ok(forecast) => {
                self.breaker.succeeded();
                let forecast = Arc::new(forecast);
                self.remember(cell, forecast.clone());
                Ok(forecast)
            }
            Err(error) => {
                self.breaker.failed();
                tracing::warn!(%error, "the weather forecast gave no usable answer");
                Err(SharedError::UpstreamUnavailable.into())
            }
        }
    }

    fn fresh(&self, cell: Cell) -> Option<Arc<Upstream>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&cell)
            .filter(|(fetched, _)| fetched.elapsed() < self.keep_for)
            .map(|(_, forecast)| forecast.clone())
    }

    fn remember(&self, cell: Cell, forecast: Arc<Upstream>) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHED_PLACES && !cache.contains_key(&cell) {
            let oldest = cache
                .iter()
                .min_by_key(|(_, (fetched, _))| *fetched)
                .map(|(cell, _)| *cell);
            if let Some(oldest) = oldest {
                cache.remove(&oldest);
            }
        }
        cache.insert(cell, (Instant::now(), forecast));
    }

    async fn fetch(&self, (lat, lng): Cell) -> anyhow::Result<Upstream> {
        let url = format!(
            "{}/v1/forecast?latitude={:.2}&longitude={:.2}&hourly={HOURLY}&daily={DAILY}&timezone=Asia%2FHo_Chi_Minh&forecast_days={FORECAST_DAYS}",
            self.base_url,
            f64::from(lat) * CELL_DEGREES,
            f64::from(lng) * CELL_DEGREES,
        );
        let answer = self.client.get(&url).await?;
        anyhow::ensure!(
            answer.status.is_success(),
            "answered {}: {}",
            answer.status,
            answer.excerpt()
        );
        let forecast: Upstream = answer.json()?;
        forecast.check()?;
        Ok(forecast)
    }
}

/// Open-Meteo's answer, the variables asked for.
#[derive(Debug, Deserialize)]
struct Upstream {
    utc_offset_seconds: i32,
    hourly: UpstreamHourly,
    daily: UpstreamDaily,
}

#[derive(Debug, Deserialize)]
struct UpstreamHourly {
    time: Vec<String>,
    temperature_2m: Vec<Option<f64>>,
    relative_humidity_2m: Vec<Option<f64>>,
    precipitation_probability: Vec<Option<f64>>,
    precipitation: Vec<Option<f64>>,
    weather_code: Vec<Option<u8>>,
    wind_speed_10m: Vec<Option<f64>>,
}

#[derive(Debug, Deserialize)]
struct UpstreamDaily {
    time: Vec<String>,
    weather_code: Vec<Option<u8>>,
    temperature_2m_max: Vec<Option<f64>>,
    temperature_2m_min: Vec<Option<f64>>,
    precipitation_sum: Vec<Option<f64>>,
    precipitation_probability_max: Vec<Option<f64>>,
    wind_speed_10m_max: Vec<Option<f64>>,
}

impl Upstream {
    /// Every variable has a value (or null) for every time, as the protocol promises.
    fn check(&self) -> anyhow::Result<()> {
        let h = &self.hourly;
        let hours = h.time.len();
        anyhow::ensure!(
            [
                h.temperature_2m.len(),
                h.relative_humidity_2m.len(),
                h.precipitation_probability.len(),
                h.precipitation.len(),
                h.weather_code.len(),
                h.wind_speed_10m.len(),
            ]
            .iter()
            .all(|&n| n == hours),
            "hourly variables of unequal length"
        );
        let d = &self.daily;
        let days = d.time.len();
        anyhow::ensure!(
            [
                d.weather_code.len(),
                d.temperature_2m_max.len(),
                d.temperature_2m_min.len(),
                d.precipitation_sum.len(),
                d.precipitation_probability_max.len(),
                d.wind_speed_10m_max.len(),
            ]
            .iter()
            .all(|&n| n == days),
            "daily variables of unequal length"
        );
        anyhow::ensure!(
            self.utc_offset_seconds.abs() < 86_400,
            "not a UTC offset: {}",
            self.utc_offset_seconds
        );
        for time in &h.time {
            NaiveDateTime::parse_from_str(time, "%Y-%m-%dT%H:%M")?;
        }
        for date in &d.time {
            NaiveDate::parse_from_str(date, "%Y-%m-%d")?;
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PointQuery {
    lat: f64,
    lng: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Forecast {
    /// From the current hour, for 48 hours.
    hourly: Vec<HourForecast>,
    /// From today, for 7 days.
    daily: Vec<DayForecast>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HourForecast {
    /// The hour's start, in Vietnam's time (`+07:00`).
    time: DateTime<FixedOffset>,
    temperature_c: Option<f64>,
    humidity_pct: Option<f64>,
    precipitation_mm: Option<f64>,
    precipitation_probability_pct: Option<f64>,
    wind_kmh: Option<f64>,
    /// The WMO weather interpretation code.
    weather_code: Option<u8>,
    description: Option<Text>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayForecast {
    date: NaiveDate,
    temperature_max_c: Option<f64>,
    temperature_min_c: Option<f64>,
    precipitation_mm: Option<f64>,
    precipitation_probability_pct: Option<f64>,
    wind_max_kmh: Option<f64>,
    weather_code: Option<u8>,
    description: Option<Text>,
    /// Heat, cold and heavy rain the day's figures reach, as the national service names them.
    warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    Heat,
    Cold,
    HeavyRain,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Warning {
    kind: WarningKind,
    /// 1 to 3 for heat (nắng nóng, gay gắt, đặc biệt gay gắt), 1 to 2 for cold (rét đậm, rét
    /// hại) and rain (mưa to, mưa rất to).
    severity: u8,
    text: Text,
}

/// The forecast at a point.
#[utoipa::path(get, path = "/v1/environment/weather", operation_id = "weather_forecast", tag = "environment",
    params(PointQuery),
    responses((status = 200, body = Forecast),
        (status = 404, description = "`no_weather_source`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_position`, `outside_forecast_coverage`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn forecast(
    State(state): State<EnvironmentState>,
    QueryParams(point): QueryParams<PointQuery>,
) -> Result<Response, ApiError> {
    if !platform::geo::valid_position(point.lat, point.lng) {
        return Err(SharedError::InvalidPosition.into());
    }
    // Vietnam's forecasts only: anyone may ask, so anywhere on Earth would spend the source's
    // quota on others.
    if !(COVERAGE_LAT.contains(&point.lat) && COVERAGE_LNG.contains(&point.lng)) {
        return Err(EnvironmentError::OutsideForecastCoverage.into());
    }
    let forecasts = state
        .forecasts
        .as_ref()
        .ok_or(EnvironmentError::NoWeatherSource)?;
    let upstream = forecasts.at(point.lat, point.lng).await?;
    let mut response = Json(shape(&upstream, Utc::now())).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

/// The hours from `now`'s and the days of Open-Meteo's answer, as residents read them.
fn shape(upstream: &Upstream, now: DateTime<Utc>) -> Forecast {
    let offset = FixedOffset::east_opt(upstream.utc_offset_seconds)
        .unwrap_or(platform::vietnam_time::OFFSET);
    let this_hour = now
        .with_timezone(&offset)
        .naive_local()
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0));
    let h = &upstream.hourly;
    let hourly = h
        .time
        .iter()
        .enumerate()
        .filter_map(|(i, time)| {
            let local = NaiveDateTime::parse_from_str(time, "%Y-%m-%dT%H:%M").ok()?;
            (Some(local) >= this_hour).then_some((i, local))
        })
        .take(HOURS_SHOWN)
        .filter_map(|(i, local)| {
            Some(HourForecast {
                time: local.and_local_timezone(offset).single()?,
                temperature_c: h.temperature_2m[i],
                humidity_pct: h.relative_humidity_2m[i],
                precipitation_mm: h.precipitation[i],
                precipitation_probability_pct: h.precipitation_probability[i],
                wind_kmh: h.wind_speed_10m[i],
                weather_code: h.weather_code[i],
                description: h.weather_code[i].and_then(describe),
            })
        })
        .collect();
    let d = &upstream.daily;
    let daily = d
        .time
        .iter()
        .enumerate()
        .filter_map(|(i, date)| {
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
            Some(DayForecast {
                date,
                temperature_max_c: d.temperature_2m_max[i],
                temperature_min_c: d.temperature_2m_min[i],
                precipitation_mm: d.precipitation_sum[i],
                precipitation_probability_pct: d.precipitation_probability_max[i],
                wind_max_kmh: d.wind_speed_10m_max[i],
                weather_code: d.weather_code[i],
                description: d.weather_code[i].and_then(describe),
                warnings: warnings(
                    d.temperature_2m_max[i],
                    d.temperature_2m_min[i],
                    d.precipitation_sum[i],
                ),
            })
        })
        .collect();
    Forecast { hourly, daily }
}

/// The warnings a day's figures reach. Heat goes by the day's highest temperature (35, 37 and
/// 39 °C), cold by its mean, taken as the middle of its highest and lowest (rét đậm at 15 °C or
/// below, rét hại at 13 °C or below), and rain by its total (mưa to above 50 mm in 24 hours,
/// mưa rất to above 100 mm).
fn warnings(max_c: Option<f64>, min_c: Option<f64>, rain_mm: Option<f64>) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if let Some(max) = max_c {
        let heat = match max {
            t if t >= 39.0 => Some((3, "Nắng nóng đặc biệt gay gắt", "Extreme heat")),
            t if t >= 37.0 => Some((2, "Nắng nóng gay gắt", "Severe heat")),
            t if t >= 35.0 => Some((1, "Nắng nóng", "Heatwave")),
            _ => None,
        };
        if let Some((severity, vi, en)) = heat {
            warnings.push(Warning {
                kind: WarningKind::Heat,
                severity,
                text: Text::new(
                    &format!("{vi}: cao nhất {max:.0} °C. Hạn chế ra ngoài từ 11 đến 16 giờ, uống đủ nước."),
                    &format!("{en}: up to {max:.0} °C. Stay indoors from 11 am to 4 pm if you can and drink enough water."),
                ),
            });
        }
    }
    if let (Some(max), Some(min)) = (max_c, min_c) {
        let mean = (max + min) / 2.0;
        let cold = match mean {
            t if t <= 13.0 => Some((2, "Rét hại", "Severe cold")),
            t if t <= 15.0 => Some((1, "Rét đậm", "Cold snap")),
            _ => None,
        };
        if let Some((severity, vi, en)) = cold {
            warnings.push(Warning {
                kind: WarningKind::Cold,
                severity,
                text: Text::new(
                    &format!("{vi}: nhiệt độ trung bình khoảng {mean:.0} °C. Giữ ấm cho trẻ nhỏ và người già."),
                    &format!("{en}: a mean temperature of about {mean:.0} °C. Keep children and the elderly warm."),
                ),
            });
        }
    }
    if let Some(rain) = rain_mm {
        let heavy = match rain {
            r if r > 100.0 => Some((2, "Mưa rất to", "Very heavy rain")),
            r if r > 50.0 => Some((1, "Mưa to", "Heavy rain")),
            _ => None,
        };
        if let Some((severity, vi, en)) = heavy {
            warnings.push(Warning {
                kind: WarningKind::HeavyRain,
                severity,
                text: Text::new(
                    &format!("{vi}: khoảng {rain:.0} mm trong ngày. Đề phòng ngập úng, lũ quét và sạt lở đất."),
                    &format!("{en}: about {rain:.0} mm in the day. Beware of flooding, flash floods and landslides."),
                ),
            });
        }
    }
    warnings
}

/// The WMO weather interpretation code (as Open-Meteo answers it) in words.
fn describe(code: u8) -> Option<Text> {
    let (vi, en) = match code {
        0 => ("Trời quang", "Clear sky"),
        1 => ("Ít mây", "Mainly clear"),
        2 => ("Có mây", "Partly cloudy"),
        3 => ("Nhiều mây", "Overcast"),
        45 => ("Sương mù", "Fog"),
        48 => ("Sương mù đóng băng", "Depositing rime fog"),
        51 => ("Mưa phùn nhẹ", "Light drizzle"),
        53 => ("Mưa phùn", "Drizzle"),
        55 => ("Mưa phùn dày", "Dense drizzle"),
        56 | 57 => ("Mưa phùn băng giá", "Freezing drizzle"),
        61 => ("Mưa nhỏ", "Slight rain"),
        63 => ("Mưa vừa", "Moderate rain"),
        65 => ("Mưa nặng hạt", "Heavy rain"),
        66 | 67 => ("Mưa băng giá", "Freezing rain"),
        71 | 73 | 75 | 77 => ("Tuyết", "Snow"),
        80 => ("Mưa rào nhẹ", "Slight rain showers"),
        81 => ("Mưa rào", "Rain showers"),
        82 => ("Mưa rào rất to", "Violent rain showers"),
        85 | 86 => ("Mưa tuyết", "Snow showers"),
        95 => ("Dông", "Thunderstorm"),
        96 | 99 => ("Dông kèm mưa đá", "Thunderstorm with hail"),
        _ => return None,
    };
    Some(Text::new(vi, en))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(warnings: &[Warning]) -> Vec<(WarningKind, u8)> {
        warnings.iter().map(|w| (w.kind, w.severity)).collect()
    }

    #[test]
    fn warnings_start_at_the_national_thresholds() {
        assert!(warnings(Some(34.9), Some(26.0), Some(50.0)).is_empty());
        assert_eq!(
            kinds(&warnings(Some(35.0), Some(27.0), None)),
            [(WarningKind::Heat, 1)]
        );
        assert_eq!(
            kinds(&warnings(Some(37.2), Some(28.0), None)),
            [(WarningKind::Heat, 2)]
        );
        assert_eq!(
            kinds(&warnings(Some(39.0), Some(29.0), None)),
            [(WarningKind::Heat, 3)]
        );
        // Mean 15 °C: rét đậm; 13 °C: rét hại.
        assert_eq!(
            kinds(&warnings(Some(18.0), Some(12.0), None)),
            [(WarningKind::Cold, 1)]
        );
        assert_eq!(
            kinds(&warnings(Some(15.0), Some(11.0), None)),
            [(WarningKind::Cold, 2)]
        );
        assert_eq!(kinds(&warnings(Some(20.0), Some(10.5), None)), []);
        assert_eq!(
            kinds(&warnings(None, None, Some(50.1))),
            [(WarningKind::HeavyRain, 1)]
        );
        assert_eq!(
            kinds(&warnings(None, None, Some(100.1))),
            [(WarningKind::HeavyRain, 2)]
        );
    }

    #[test]
    fn hours_start_at_the_current_hour_in_vietnam_time() {
        let upstream: Upstream = serde_json::from_value(serde_json::json!({
            "utc_offset_seconds": 25200,
            "hourly": {
                "time": ["2026-12-07T08:00", "2026-12-07T09:00", "2026-12-07T10:00"],
                "temperature_2m": [20.0, 21.0, null],
                "relative_humidity_2m": [90.0, 88.0, 85.0],
                "precipitation_probability": [80.0, 70.0, 60.0],
                "precipitation": [1.2, 0.4, 0.0],
                "weather_code": [63, 61, 3],
                "wind_speed_10m": [10.0, 11.0, 12.0],
            },
            "daily": {
                "time": ["2026-12-07"],
                "weather_code": [65],
                "temperature_2m_max": [22.0],
                "temperature_2m_min": [19.0],
                "precipitation_sum": [120.0],
                "precipitation_probability_max": [100.0],
                "wind_speed_10m_max": [30.0],
            },
        }))
        .unwrap();
        upstream.check().unwrap();
        // 02:30 UTC is 09:30 in Huế: the 09:00 hour is the first shown.
        let now = "2026-12-07T02:30:00Z".parse().unwrap();
        let forecast = shape(&upstream, now);
        assert_eq!(forecast.hourly.len(), 2);
        assert_eq!(
            forecast.hourly[0].time.to_rfc3339(),
            "2026-12-07T09:00:00+07:00"
        );
        assert_eq!(
            forecast.hourly[0].description.as_ref().unwrap().vi,
            "Mưa nhỏ"
        );
        assert_eq!(forecast.hourly[1].temperature_c, None);
        assert_eq!(
            kinds(&forecast.daily[0].warnings),
            [(WarningKind::HeavyRain, 2)]
        );
        assert_eq!(
            forecast.daily[0].description.as_ref().unwrap().en,
            "Heavy rain"
        );
    }

    #[test]
    fn an_answer_with_a_variable_short_of_the_times_is_refused() {
        let upstream: Upstream = serde_json::from_value(serde_json::json!({
            "utc_offset_seconds": 25200,
            "hourly": {
                "time": ["2026-12-07T08:00", "2026-12-07T09:00"],
                "temperature_2m": [20.0],
                "relative_humidity_2m": [90.0, 88.0],
                "precipitation_probability": [80.0, 70.0],
                "precipitation": [1.2, 0.4],
                "weather_code": [63, 61],
                "wind_speed_10m": [10.0, 11.0],
            },
            "daily": {"time": [], "weather_code": [], "temperature_2m_max": [],
                "temperature_2m_min": [], "precipitation_sum": [],
                "precipitation_probability_max": [], "wind_speed_10m_max": []},
        }))
        .unwrap();
        assert!(upstream.check().is_err());
    }
}
