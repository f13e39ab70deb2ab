//! Air quality at the city's monitoring stations: a job copies each station's hourly means from
//! the network's OpenAQ v3 API, and residents read each station's hourly and daily VN_AQI
//! (`aqi`), nearest first. A station without enough recent hours says it has no data: it is
//! never shown as clean air.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use bytes::Bytes;
use chrono::{DateTime, Days, FixedOffset, NaiveDate, TimeDelta, Utc};
use http_body_util::Full;
use platform::ApiError;
use platform::extract::QueryParams;
use platform::jobs::Jobs;
use platform::outbound::OutboundClient;
use platform::text::Text;
use platform::vietnam_time::OFFSET;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::aqi::{self, Aqi, Pollutant};
use crate::config::AirQualitySource;
use crate::stations::AirStation;
use crate::{EnvironmentError, EnvironmentState};

/// How far back a station's first poll reaches, and how far the answers look.
const LOOKBACK_HOURS: i64 = 48;
/// An hourly index older than this is no longer the air now.
const STALE_AFTER_HOURS: i64 = 3;
/// Days of readings kept.
const KEEP_DAYS: i64 = 35;
const PAGE: usize = 100;

/// Copies the stations' new hours every `air_poll_secs`, on one replica at a time.
pub fn start_polling(state: EnvironmentState, jobs: &Jobs) {
    let Some(source) = state.config.air_quality.clone() else {
        return;
    };
    let every = Duration::from_secs(state.config.air_poll_secs.max(1));
    let pool = state.pool.clone();
    jobs.repeat_as_leader("environment.air_quality", every, pool, move |mut tx| {
        let (state, source) = (state.clone(), source.clone());
        async move {
            // Each station in a savepoint: a station whose writes fail leaves the others' kept.
            for station in &state.stations.air_stations {
                let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
                match poll(&state, &source, station, &mut savepoint).await {
                    Ok(()) => savepoint.commit().await?,
                    Err(error) => {
                        let error = format!("{error:#}");
                        tracing::warn!(
                            station = station.id,
                            error,
                            "air station not read; will retry"
                        );
                        savepoint.rollback().await?;
                    }
                }
            }
            sqlx::query!(
                "DELETE FROM air_readings WHERE hour < now() - make_interval(days => $1)",
                KEEP_DAYS as i32
            )
            .execute(&mut *tx)
            .await?;
            Ok(tx)
        }
    });
}

#[derive(Deserialize)]
struct Page<T> {
    results: Vec<T>,
}

#[derive(Deserialize)]
struct Sensor {
    id: u64,
    parameter: Parameter,
}

#[derive(Deserialize)]
struct Parameter {
    name: String,
    units: String,
}

#[derive(Deserialize)]
struct Hour {
    value: Option<f64>,
    period: Period,
}

#[derive(Deserialize)]
struct Period {
    #[serde(rename = "datetimeFrom")]
    from: UtcTime,
}

#[derive(Deserialize)]
struct UtcTime {
    utc: DateTime<Utc>,
}

/// Reads one station's hours since its last stored one.
async fn poll(
    state: &EnvironmentState,
    source: &AirQualitySource,
    station: &AirStation,
    tx: &mut sqlx::PgConnection,
) -> anyhow::Result<()> {
    let sensors: Page<Sensor> = get(
        &state.outside,
        source,
        &format!("/v3/locations/{}/sensors", station.openaq_location),
    )
    .await?;
    for sensor in sensors.results {
        let Some(pollutant) = Pollutant::from_code(&sensor.parameter.name) else {
            continue;
        };
        let Some(to_micrograms) = micrograms_per_unit(pollutant, &sensor.parameter.units) else {
            tracing::warn!(
                station = station.id,
                units = sensor.parameter.units,
                "air sensor in units we cannot convert; skipped"
            );
            continue;
        };
        let last = sqlx::query_scalar!(
            "SELECT max(hour) FROM air_readings WHERE station = $1 AND pollutant = $2",
            station.id,
            pollutant.code()
        )
        .fetch_one(&mut *tx)
        .await?;
        let now = Utc::now();
        let earliest = now - TimeDelta::hours(LOOKBACK_HOURS);
        let from = last.map_or(earliest, |last| (last + TimeDelta::hours(1)).max(earliest));
        let (mut hours, mut values) = (Vec::new(), Vec::new());
        for page in 1..=5 {
            let path = format!(
                "/v3/sensors/{}/hours?datetime_from={}&datetime_to={}&limit={PAGE}&page={page}",
                sensor.id,
                from.format("%Y-%m-%dT%H:%M:%SZ"),
                now.format("%Y-%m-%dT%H:%M:%SZ"),
            );
            let answer: Page<Hour> = get(&state.outside, source, &path).await?;
            let full = answer.results.len() >= PAGE;
            for hour in answer.results {
                // An hour the network flagged empty, or a negative reading, is no reading.
                if let Some(value) = hour.value.filter(|v| v.is_finite() && *v >= 0.0)
                    && hour.period.from.utc.timestamp() % 3600 == 0
                {
                    hours.push(hour.period.from.utc);
                    values.push(value * to_micrograms);
                }
            }
            if !full {
                break;
            }
        }
        let (hours, values) = crate::rivers::one_per_time(hours, values);
        sqlx::query!(
            r#"INSERT INTO air_readings (station, pollutant, hour, value)
               SELECT $1, $2, hour, value FROM UNNEST($3::timestamptz[], $4::float8[]) AS r(hour, value)
               ON CONFLICT (station, hour, pollutant) DO UPDATE SET value = EXCLUDED.value"#,
            station.id,
            pollutant.code(),
            &hours,
            &values
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The factor turning a reading in `units` into µg/m³: gases in ppm or ppb at 25 °C and 1 atm
/// (a mole of gas fills 24.45 litres).
fn micrograms_per_unit(pollutant: Pollutant, units: &str) -> Option<f64> {
    match units {
        "µg/m³" | "μg/m³" | "ug/m3" => Some(1.0),
        "mg/m³" | "mg/m3" => Some(1000.0),
        "ppm" => pollutant.molar_mass().map(|m| m * 1000.0 / 24.45),
        "ppb" => pollutant.molar_mass().map(|m| m / 24.45),
        _ => None,
    }
}

async fn get<T: serde::de::DeserializeOwned>(
    client: &OutboundClient,
    source: &AirQualitySource,
    path: &str,
) -> anyhow::Result<T> {
    let url = format!("{}{path}", source.base_url.trim_end_matches('/'));
    let request = http::Request::get(&url)
        .header(http::header::ACCEPT, "application/json")
        .header("x-api-key", source.api_key.expose_secret())
        .body(Full::<Bytes>::default())?;
    let answer = client.send(request).await?;
    anyhow::ensure!(
        answer.status.is_success(),
        "OpenAQ answered {}: {}",
        answer.status,
        answer.excerpt()
    );
    Ok(answer.json()?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NearQuery {
    /// Where the resident is; without it, stations in name order.
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AirStations {
    stations: Vec<StationAir>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationAir {
    id: String,
    name: Text,
    lat: f64,
    lng: f64,
    /// From the point asked about.
    distance_m: Option<f64>,
    /// The index of the latest hour, unless the station has not reported for 3 hours.
    hourly: Option<HourAqi>,
    /// Yesterday's index (Vietnam's day), when the station reported most of it.
    daily: Option<DayAqi>,
    /// Why a station shows no index, when it shows none.
    no_data: Option<Text>,
    /// The source, as the decision asks that it be named.
    source: Text,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HourAqi {
    /// The end of the hour, in Vietnam's time, as indexes are published.
    hour_ending: DateTime<FixedOffset>,
    #[serde(flatten)]
    aqi: Aqi,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayAqi {
    date: NaiveDate,
    #[serde(flatten)]
    aqi: Aqi,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationDetail {
    #[serde(flatten)]
    station: StationAir,
    /// The hourly index of each of the last 24 hours that has one, oldest first.
    history: Vec<HourAqi>,
}

/// Air stations with their indexes, nearest first.
#[utoipa::path(get, path = "/v1/environment/air-quality", operation_id = "air_quality", tag = "environment",
    params(NearQuery),
    responses((status = 200, body = AirStations),
        (status = 422, description = "`invalid_position`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn stations(
    State(state): State<EnvironmentState>,
    QueryParams(near): QueryParams<NearQuery>,
) -> Result<Json<AirStations>, ApiError> {
    let point = platform::geo::optional_position(near.lat, near.lng)?;
    let now = Utc::now();
    let readings = Readings::load(&state, None, now).await?;
    let mut stations: Vec<StationAir> = state
        .stations
        .air_stations
        .iter()
        .map(|station| readings.describe(station, point, now))
        .collect();
    match point {
        Some(_) => stations.sort_by(|a, b| {
            a.distance_m
                .unwrap_or(f64::MAX)
                .total_cmp(&b.distance_m.unwrap_or(f64::MAX))
        }),
        None => stations.sort_by(|a, b| a.name.vi.cmp(&b.name.vi)),
    }
    Ok(Json(AirStations { stations }))
}

/// One station, with its last 24 hourly indexes.
#[utoipa::path(get, path = "/v1/environment/air-quality/stations/{id}", operation_id = "air_quality_station", tag = "environment",
    params(("id" = String, Path)),
    responses((status = 200, body = StationDetail),
        (status = 404, description = "`air_station_not_found`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn station(
    State(state): State<EnvironmentState>,
    Path(id): Path<String>,
) -> Result<Json<StationDetail>, ApiError> {
    let station = state
        .stations
        .air_stations
        .iter()
        .find(|s| s.id == id)
        .ok_or(EnvironmentError::AirStationNotFound)?;
    let now = Utc::now();
    let readings = Readings::load(&state, Some(&station.id), now).await?;
    let latest = readings.latest(&station.id);
    let history = latest
        .map(|latest| {
            (0..24)
                .rev()
                .filter_map(|back| readings.hourly(&station.id, latest - TimeDelta::hours(back)))
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(StationDetail {
        station: readings.describe(station, None, now),
        history,
    }))
}

/// The stations' readings of the last days, by station, hour and pollutant.
struct Readings(BTreeMap<String, BTreeMap<(DateTime<Utc>, Pollutant), f64>>);

impl Readings {
    /// Enough for yesterday's index (from 7 hours before it, for ozone) and the last 24
    /// hours' hourly ones (12 hours before each, for the NowCast).
    async fn load(
        state: &EnvironmentState,
        station: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, ApiError> {
        let since = now - TimeDelta::hours(LOOKBACK_HOURS + 12);
        let ids: Vec<String> = match station {
            Some(id) => vec![id.to_owned()],
            None => state
                .stations
                .air_stations
                .iter()
                .map(|s| s.id.clone())
                .collect(),
        };
        let rows = sqlx::query!(
            "SELECT station, pollutant, hour, value FROM air_readings
             WHERE station = ANY($1) AND hour >= $2",
            &ids,
            since
        )
        .fetch_all(&state.pool)
        .await?;
        let mut readings: BTreeMap<String, BTreeMap<_, _>> = BTreeMap::new();
        for row in rows {
            if let Some(pollutant) = Pollutant::from_code(&row.pollutant) {
                readings
                    .entry(row.station)
                    .or_default()
                    .insert((row.hour, pollutant), row.value);
            }
        }
        Ok(Self(readings))
    }

    fn latest(&self, station: &str) -> Option<DateTime<Utc>> {
        self.0.get(station)?.keys().map(|(hour, _)| *hour).max()
    }

    /// Each pollutant's `count` hours from `first`, one step of `step` hours at a time.
    fn series(
        &self,
        station: &str,
        first: DateTime<Utc>,
        count: i64,
        step: i64,
    ) -> Vec<(Pollutant, Vec<Option<f64>>)> {
        let readings = self.0.get(station);
        Pollutant::ALL
            .into_iter()
            .map(|pollutant| {
                let values = (0..count)
                    .map(|i| {
                        let hour = first + TimeDelta::hours(i * step);
                        readings.and_then(|r| r.get(&(hour, pollutant)).copied())
                    })
                    .collect();
                (pollutant, values)
            })
            .filter(|(_, values): &(Pollutant, Vec<Option<f64>>)| {
                values.iter().any(Option::is_some)
            })
            .collect()
    }

    /// The hourly index of the hour starting at `hour`.
    fn hourly(&self, station: &str, hour: DateTime<Utc>) -> Option<HourAqi> {
        let aqi = aqi::hourly(&self.series(station, hour, 12, -1))?;
        Some(HourAqi {
            hour_ending: (hour + TimeDelta::hours(1)).with_timezone(&OFFSET),
            aqi,
        })
    }

    /// The daily index of Vietnam's `date`: its hours from 00:00 to 23:00 (ending 01:00 to
    /// 00:00, as the decision counts them).
    fn daily(&self, station: &str, date: NaiveDate) -> Option<DayAqi> {
        let start = date
            .and_hms_opt(0, 0, 0)?
            .and_local_timezone(OFFSET)
            .single()?
            .to_utc();
        let day = self.series(station, start, 24, 1);
        let o3_before = self
            .series(station, start - TimeDelta::hours(7), 7, 1)
            .into_iter()
            .find(|(p, _)| *p == Pollutant::O3)
            .map(|(_, values)| values)
            .unwrap_or_default();
        Some(DayAqi {
            date,
            aqi: aqi::daily(&day, &o3_before)?,
        })
    }

    fn describe(
        &self,
        station: &AirStation,
        point: Option<(f64, f64)>,
        now: DateTime<Utc>,
    ) -> StationAir {
        let hourly = self
            .latest(&station.id)
            .filter(|latest| now - *latest <= TimeDelta::hours(STALE_AFTER_HOURS))
            .and_then(|latest| self.hourly(&station.id, latest));
        let yesterday = now
            .with_timezone(&OFFSET)
            .date_naive()
            .checked_sub_days(Days::new(1));
        let daily = yesterday.and_then(|date| self.daily(&station.id, date));
        let no_data = hourly.is_none().then(|| {
            Text::new(
                "Trạm chưa có đủ số liệu trong 3 giờ qua để tính chỉ số. Đây không có nghĩa là không khí sạch.",
                "The station has not reported enough in the last 3 hours for an index. This does not mean the air is clean.",
            )
        });
        StationAir {
            id: station.id.clone(),
            name: Text::new(&station.name_vi, &station.name_en),
            lat: station.lat,
            lng: station.lng,
            distance_m: point.map(|(lat, lng)| {
                platform::geo::distance_m(lat, lng, station.lat, station.lng).round()
            }),
            hourly,
            daily,
            no_data,
            source: Text::new(
                "Mạng lưới quan trắc tự động; VN_AQI tính theo Quyết định 1459/QĐ-TCMT của Tổng cục Môi trường.",
                "Automatic monitoring network; VN_AQI computed as the Vietnam Environment Administration's Decision 1459/QĐ-TCMT sets out.",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gases_in_ppm_become_micrograms() {
        // 1 ppm of CO is about 1146 µg/m³ at 25 °C.
        let co = micrograms_per_unit(Pollutant::Co, "ppm").unwrap();
        assert!((co - 1145.6).abs() < 0.5, "{co}");
        assert_eq!(micrograms_per_unit(Pollutant::Pm25, "µg/m³"), Some(1.0));
        assert_eq!(micrograms_per_unit(Pollutant::Pm25, "ppm"), None);
        assert_eq!(micrograms_per_unit(Pollutant::No2, "furlongs"), None);
    }
}
