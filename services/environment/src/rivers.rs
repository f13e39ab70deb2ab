//! The rivers' levels at their gauges: a job copies each gauge's new readings from the
//! hydro-meteorological station's OGC SensorThings API, and residents read the latest level
//! against the gauge's alarm levels (báo động I, II, III), with its trend.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, FixedOffset, SecondsFormat, TimeDelta, Utc};
use platform::ApiError;
use platform::events::types::RiverAlarmRaised;
use platform::jobs::Jobs;
use platform::text::Text;
use platform::vietnam_time::OFFSET;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::config::SensorThingsSource;
use crate::stations::RiverGauge;
use crate::{EnvironmentError, EnvironmentState};

/// How far back a gauge's first poll reaches.
const FIRST_POLL_DAYS: i64 = 7;
/// Days of readings kept.
const KEEP_DAYS: i64 = 35;
/// Pages of one gauge read in one round; the rest waits for the next.
const MAX_PAGES: usize = 10;
/// A reading older than this is not the river now.
const STALE_AFTER_HOURS: i64 = 3;
/// The trend compares the latest reading with the one this long before it.
const TREND_HOURS: i64 = 3;
/// A change smaller than this over `TREND_HOURS` is a steady river.
const STEADY_M: f64 = 0.05;
/// Hours of readings in a gauge's own page.
const HISTORY_HOURS: i64 = 48;

pub fn start_polling(state: EnvironmentState, jobs: &Jobs) {
    let Some(source) = state.config.rivers.clone() else {
        return;
    };
    let every = Duration::from_secs(state.config.river_poll_secs.max(1));
    let pool = state.pool.clone();
    jobs.repeat_as_leader("environment.rivers", every, pool, move |mut tx| {
        let (state, source) = (state.clone(), source.clone());
        async move {
            // Each gauge in a savepoint: a gauge whose writes fail leaves the others' kept.
            for gauge in &state.stations.river_gauges {
                let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
                match poll(&state, &source, gauge, &mut savepoint).await {
                    Ok(()) => savepoint.commit().await?,
                    Err(error) => {
                        let error = format!("{error:#}");
                        tracing::warn!(gauge = gauge.id, error, "river gauge not read; will retry");
                        savepoint.rollback().await?;
                    }
                }
            }
            sqlx::query!(
                "DELETE FROM river_readings WHERE observed_at < now() - make_interval(days => $1)",
                KEEP_DAYS as i32
            )
            .execute(&mut *tx)
            .await?;
            Ok(tx)
        }
    });
}

#[derive(Deserialize)]
struct Observations {
    value: Vec<Observation>,
    #[serde(rename = "@iot.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct Observation {
    #[serde(rename = "phenomenonTime")]
    phenomenon_time: DateTime<Utc>,
    result: f64,
}

/// Reads one gauge's observations since its last stored one, oldest first, following the
/// server's next links while they stay on the server; a river that rose past a higher alarm
/// level since raises an alert, in the same transaction.
async fn poll(
    state: &EnvironmentState,
    source: &SensorThingsSource,
    gauge: &RiverGauge,
    tx: &mut sqlx::PgConnection,
) -> anyhow::Result<()> {
    let client = &state.outside;
    let base = source.base_url.trim_end_matches('/');
    let last = sqlx::query!(
        "SELECT observed_at, level_m FROM river_readings WHERE gauge = $1
         ORDER BY observed_at DESC LIMIT 1",
        gauge.id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let since = last.as_ref().map_or_else(
        || Utc::now() - TimeDelta::days(FIRST_POLL_DAYS),
        |l| l.observed_at,
    );
    let filter: String = form_urlencoded::byte_serialize(
        format!(
            "phenomenonTime gt {}",
            since.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        )
        .as_bytes(),
    )
    .collect();
    let mut url = Some(format!(
        "{base}/v1.1/Datastreams({})/Observations?$filter={filter}&$orderby=phenomenonTime%20asc&$top=1000",
        gauge.datastream
    ));
    let (mut times, mut levels) = (Vec::new(), Vec::new());
    for _ in 0..MAX_PAGES {
        let Some(next) = url.take() else { break };
        let answer = client.get(&next).await?;
        anyhow::ensure!(
            answer.status.is_success(),
            "SensorThings answered {}: {}",
            answer.status,
            answer.excerpt()
        );
        let page: Observations = answer.json()?;
        for observation in page.value {
            if observation.result.is_finite() {
                times.push(observation.phenomenon_time);
                levels.push(observation.result);
            }
        }
        url = page
            .next_link
            .map(|link| resolve(base, &link))
            .transpose()?;
    }
    // One reading per time: a server that repeats one must not stop the gauge's ingestion.
    let (times, levels) = one_per_time(times, levels);
    sqlx::query!(
        r#"INSERT INTO river_readings (gauge, observed_at, level_m)
           SELECT $1, observed_at, level_m FROM UNNEST($2::timestamptz[], $3::float8[]) AS r(observed_at, level_m)
           ON CONFLICT (gauge, observed_at) DO UPDATE SET level_m = EXCLUDED.level_m"#,
        gauge.id,
        &times,
        &levels
    )
    .execute(&mut *tx)
    .await?;
    let newest = times.iter().zip(&levels).max_by_key(|(at, _)| **at);
    if let Some((&observed_at, &level_m)) = newest {
        let before = last.map_or(0, |l| gauge.alarm_level(l.level_m));
        let now = gauge.alarm_level(level_m);
        // Only the river now: a backlog of old readings raises nothing.
        let recent = Utc::now() - observed_at <= TimeDelta::hours(STALE_AFTER_HOURS);
        if now > before && recent {
            let raised = RiverAlarmRaised {
                jurisdiction: state.stations.jurisdiction.clone(),
                gauge_id: gauge.id.clone(),
                river_vi: gauge.river_vi.clone(),
                river_en: gauge.river_en.clone(),
                station_vi: gauge.station_vi.clone(),
                station_en: gauge.station_en.clone(),
                lat: gauge.lat,
                lng: gauge.lng,
                wards: gauge.warns_wards.clone(),
                level_m,
                alarm_level: now,
                threshold_m: gauge.alarm_levels_m[usize::from(now) - 1],
                observed_at,
            };
            platform::events::enqueue(tx, Uuid::now_v7(), &raised).await?;
            tracing::warn!(
                gauge = gauge.id,
                level_m,
                alarm_level = now,
                "a river rose past an alarm level"
            );
        }
    }
    Ok(())
}

/// The readings with one value per time, the last given for a time winning, in time order.
pub fn one_per_time<T: Ord + Copy>(times: Vec<T>, values: Vec<f64>) -> (Vec<T>, Vec<f64>) {
    let readings: std::collections::BTreeMap<T, f64> = times.into_iter().zip(values).collect();
    readings.into_iter().unzip()
}

/// A next link as a URL on the configured server: relative links are taken from its origin;
/// an absolute one elsewhere is refused (a server must not send us to another host).
fn resolve(base: &str, link: &str) -> anyhow::Result<String> {
    if link.starts_with("http://") || link.starts_with("https://") {
        let origin = origin(base);
        anyhow::ensure!(
            link.starts_with(&format!("{origin}/")),
            "a next link off the server: {link}"
        );
        return Ok(link.to_owned());
    }
    anyhow::ensure!(
        link.starts_with('/'),
        "a next link that is not a path: {link}"
    );
    Ok(format!("{}{link}", origin(base)))
}

/// `scheme://host[:port]` of `url`.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rivers {
    gauges: Vec<GaugeLevel>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GaugeLevel {
    id: String,
    river: Text,
    station: Text,
    lat: f64,
    lng: f64,
    /// Báo động I, II and III, in metres.
    alarm_levels_m: [f64; 3],
    /// The latest reading, unless the gauge has not reported for 3 hours.
    latest: Option<Reading>,
    /// 0 (below alarm I) to 3, for the latest reading.
    alarm_level: Option<u8>,
    /// What the level means, in words.
    status: Text,
    trend: Option<Trend>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reading {
    /// In Vietnam's time.
    observed_at: DateTime<FixedOffset>,
    level_m: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Rising,
    Steady,
    Falling,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GaugeDetail {
    #[serde(flatten)]
    gauge: GaugeLevel,
    /// The last 48 hours' readings, oldest first.
    readings: Vec<Reading>,
}

/// Every gauge's latest level against its alarm levels.
#[utoipa::path(get, path = "/v1/environment/rivers", operation_id = "river_levels", tag = "environment",
    responses((status = 200, body = Rivers)))]
pub async fn gauges(State(state): State<EnvironmentState>) -> Result<Json<Rivers>, ApiError> {
    let now = Utc::now();
    let ids: Vec<String> = state
        .stations
        .river_gauges
        .iter()
        .map(|g| g.id.clone())
        .collect();
    let readings = recent(
        &state,
        &ids,
        now - TimeDelta::hours(STALE_AFTER_HOURS + TREND_HOURS),
    )
    .await?;
    let gauges = state
        .stations
        .river_gauges
        .iter()
        .map(|gauge| {
            level(
                gauge,
                readings.get(&gauge.id).map_or(&[], Vec::as_slice),
                now,
            )
        })
        .collect();
    Ok(Json(Rivers { gauges }))
}

/// One gauge, with its last 48 hours.
#[utoipa::path(get, path = "/v1/environment/rivers/{id}", operation_id = "river_gauge", tag = "environment",
    params(("id" = String, Path)),
    responses((status = 200, body = GaugeDetail),
        (status = 404, description = "`river_gauge_not_found`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn gauge(
    State(state): State<EnvironmentState>,
    Path(id): Path<String>,
) -> Result<Json<GaugeDetail>, ApiError> {
    let gauge = state
        .stations
        .river_gauges
        .iter()
        .find(|g| g.id == id)
        .ok_or(EnvironmentError::RiverGaugeNotFound)?;
    let now = Utc::now();
    let mut readings = recent(
        &state,
        std::slice::from_ref(&gauge.id),
        now - TimeDelta::hours(HISTORY_HOURS),
    )
    .await?;
    let readings = readings.remove(&gauge.id).unwrap_or_default();
    Ok(Json(GaugeDetail {
        gauge: level(gauge, &readings, now),
        readings: readings
            .iter()
            .map(|(at, level_m)| Reading {
                observed_at: at.with_timezone(&OFFSET),
                level_m: *level_m,
            })
            .collect(),
    }))
}

/// Each gauge's readings since `since`, oldest first.
async fn recent(
    state: &EnvironmentState,
    ids: &[String],
    since: DateTime<Utc>,
) -> Result<BTreeMap<String, Vec<(DateTime<Utc>, f64)>>, ApiError> {
    let rows = sqlx::query!(
        "SELECT gauge, observed_at, level_m FROM river_readings
         WHERE gauge = ANY($1) AND observed_at >= $2 ORDER BY gauge, observed_at",
        ids,
        since
    )
    .fetch_all(&state.pool)
    .await?;
    let mut readings: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for row in rows {
        readings
            .entry(row.gauge)
            .or_default()
            .push((row.observed_at, row.level_m));
    }
    Ok(readings)
}

/// A gauge's state from its readings (oldest first) at `now`.
fn level(gauge: &RiverGauge, readings: &[(DateTime<Utc>, f64)], now: DateTime<Utc>) -> GaugeLevel {
    let latest = readings
        .last()
        .filter(|(at, _)| now - *at <= TimeDelta::hours(STALE_AFTER_HOURS))
        .copied();
    let trend = latest.and_then(|(at, level)| {
        let (_, before) = readings
            .iter()
            .rev()
            .find(|(then, _)| at - *then >= TimeDelta::hours(TREND_HOURS))?;
        Some(match level - before {
            change if change >= STEADY_M => Trend::Rising,
            change if change <= -STEADY_M => Trend::Falling,
            _ => Trend::Steady,
        })
    });
    let alarm_level = latest.map(|(_, level)| gauge.alarm_level(level));
    let status = match alarm_level {
        None => Text::new(
            "Trạm chưa báo số liệu trong 3 giờ qua.",
            "The gauge has not reported in the last 3 hours.",
        ),
        Some(0) => Text::new("Dưới báo động I.", "Below alarm level I."),
        Some(1) => Text::new(
            "Trên báo động I: lũ đang lên, theo dõi thông tin.",
            "Above alarm level I: a flood is building; keep informed.",
        ),
        Some(2) => Text::new(
            "Trên báo động II: ngập ở vùng trũng thấp, sẵn sàng di dời.",
            "Above alarm level II: low-lying areas flood; be ready to move.",
        ),
        Some(_) => Text::new(
            "Trên báo động III: lũ lớn, nguy hiểm. Làm theo hướng dẫn sơ tán của chính quyền.",
            "Above alarm level III: a major, dangerous flood. Follow the authorities' evacuation orders.",
        ),
    };
    GaugeLevel {
        id: gauge.id.clone(),
        river: Text::new(&gauge.river_vi, &gauge.river_en),
        station: Text::new(&gauge.station_vi, &gauge.station_en),
        lat: gauge.lat,
        lng: gauge.lng,
        alarm_levels_m: gauge.alarm_levels_m,
        latest: latest.map(|(at, level_m)| Reading {
            observed_at: at.with_timezone(&OFFSET),
            level_m,
        }),
        alarm_level,
        status,
        trend,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_time_keeps_its_last_reading() {
        let (times, levels) = one_per_time(vec![3, 1, 3, 2], vec![0.3, 0.1, 0.33, 0.2]);
        assert_eq!(times, [1, 2, 3]);
        assert_eq!(levels, [0.1, 0.2, 0.33]);
    }

    #[test]
    fn next_links_stay_on_the_server() {
        let base = "http://127.0.0.1:8080/sandbox/sensorthings";
        assert_eq!(
            resolve(
                base,
                "/sandbox/sensorthings/v1.1/Datastreams(101)/Observations?$skip=100"
            )
            .unwrap(),
            "http://127.0.0.1:8080/sandbox/sensorthings/v1.1/Datastreams(101)/Observations?$skip=100"
        );
        assert!(resolve(base, "http://127.0.0.1:8080/sandbox/x").is_ok());
        assert!(resolve(base, "http://169.254.169.254/latest").is_err());
        assert!(resolve(base, "http://127.0.0.1:8080.evil.example/x").is_err());
        assert!(resolve(base, "v1.1/x").is_err());
    }

    #[test]
    fn the_level_trend_and_alarm_of_a_rising_river() {
        let gauge = crate::stations::load(None).unwrap().river_gauges.remove(0);
        let now: DateTime<Utc> = "2026-12-07T10:30:00Z".parse().unwrap();
        let at = |h: i64| now - TimeDelta::minutes(30) - TimeDelta::hours(h);
        let rising = [
            (at(4), 1.6),
            (at(3), 1.8),
            (at(2), 2.0),
            (at(1), 2.2),
            (at(0), 2.4),
        ];
        let state = level(&gauge, &rising, now);
        assert_eq!(state.alarm_level, Some(2));
        assert_eq!(state.trend, Some(Trend::Rising));
        let stale = level(&gauge, &rising, now + TimeDelta::hours(4));
        assert_eq!(
            stale.alarm_level, None,
            "an old reading is not the river now"
        );
        assert!(stale.latest.is_none());
    }
}
