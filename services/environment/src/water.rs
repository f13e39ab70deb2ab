//! Surface-water quality at the monitoring centre's stations: a job copies each station's latest
//! reading of every parameter from its OGC SensorThings API, and residents read each station's
//! VN_WQI (`wqi`), nearest first. A station whose recent readings are too few for the
//! decision's index shows the readings it has and says it has no index: it is never shown as
//! clean water.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use platform::ApiError;
use platform::extract::QueryParams;
use platform::jobs::Jobs;
use platform::text::Text;
use platform::vietnam_time::OFFSET;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::EnvironmentState;
use crate::air::NearQuery;
use crate::config::SensorThingsSource;
use crate::stations::{TEMPERATURE, WaterStation};
use crate::wqi::{self, Group, Parameter, WqiError};

/// A reading older than this is not the water now; the index takes each parameter's latest
/// reading within it (an automatic station reports hourly, a sampled one less often).
const FRESH_HOURS: i64 = 24;
/// A reading stamped further ahead than this is a clock gone wrong, not a reading.
const AHEAD_MINUTES: i64 = 10;
/// Days of readings kept.
const KEEP_DAYS: i64 = 35;

/// Copies the stations' latest readings every `water_poll_secs`, on one replica at a time.
pub fn start_polling(state: EnvironmentState, jobs: &Jobs) {
    let Some(source) = state.config.water_quality.clone() else {
        return;
    };
    let every = Duration::from_secs(state.config.water_poll_secs.max(1));
    let pool = state.pool.clone();
    jobs.repeat_as_leader("environment.water_quality", every, pool, move |mut tx| {
        let (state, source) = (state.clone(), source.clone());
        async move {
            for station in &state.stations.water_stations {
                poll(&state, &source, station, &mut tx).await?;
            }
            sqlx::query!(
                "DELETE FROM water_readings WHERE observed_at < now() - make_interval(days => $1)",
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
}

#[derive(Deserialize)]
struct Observation {
    #[serde(rename = "phenomenonTime")]
    phenomenon_time: DateTime<Utc>,
    result: f64,
}

/// Stores the latest observation of each of the station's datastreams. A datastream the server
/// does not answer for, or answers with a value no water has, is left out with a warning; the
/// others are kept.
async fn poll(
    state: &EnvironmentState,
    source: &SensorThingsSource,
    station: &WaterStation,
    tx: &mut sqlx::PgConnection,
) -> anyhow::Result<()> {
    let base = source.base_url.trim_end_matches('/');
    let (mut parameters, mut times, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let latest_possible = Utc::now() + TimeDelta::minutes(AHEAD_MINUTES);
    for (parameter, datastream) in station.all_datastreams() {
        match latest(state, base, datastream).await {
            Ok(Some(observation))
                if plausible(parameter, observation.result)
                    && observation.phenomenon_time <= latest_possible =>
            {
                parameters.push(parameter.to_owned());
                times.push(observation.phenomenon_time);
                values.push(observation.result);
            }
            Ok(Some(observation)) => tracing::warn!(
                station = station.id,
                parameter,
                value = observation.result,
                time = %observation.phenomenon_time,
                "a water reading no water has, or from the future; left out"
            ),
            Ok(None) => {}
            Err(error) => tracing::warn!(
                station = station.id,
                parameter,
                error = %format!("{error:#}"),
                "water datastream not read; will retry"
            ),
        }
    }
    sqlx::query!(
        r#"INSERT INTO water_readings (station, parameter, observed_at, value)
           SELECT $1, parameter, observed_at, value
           FROM UNNEST($2::text[], $3::timestamptz[], $4::float8[]) AS r(parameter, observed_at, value)
           ON CONFLICT (station, parameter, observed_at) DO UPDATE SET value = EXCLUDED.value"#,
        station.id,
        &parameters,
        &times,
        &values
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The datastream's newest observation.
async fn latest(
    state: &EnvironmentState,
    base: &str,
    datastream: u64,
) -> anyhow::Result<Option<Observation>> {
    let url = format!(
        "{base}/v1.1/Datastreams({datastream})/Observations?$orderby=phenomenonTime%20desc&$top=1"
    );
    let answer = state.outside.get(&url).await?;
    anyhow::ensure!(
        answer.status.is_success(),
        "SensorThings answered {}: {}",
        answer.status,
        answer.excerpt()
    );
    let page: Observations = answer.json()?;
    Ok(page.value.into_iter().next())
}

/// Whether water can have `value` of `parameter` (a code, or the temperature): a broken
/// sensor's reading must not make an index.
fn plausible(parameter: &str, value: f64) -> bool {
    value.is_finite()
        && match parameter {
            TEMPERATURE => (0.0..=50.0).contains(&value),
            "ph" => (0.0..=14.0).contains(&value),
            _ => value >= 0.0,
        }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaterStations {
    stations: Vec<StationWater>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationWater {
    id: String,
    name: Text,
    lat: f64,
    lng: f64,
    /// From the point asked about.
    distance_m: Option<f64>,
    /// VN_WQI from each parameter's latest reading of the last 24 hours; none when they are too
    /// few for the decision's index.
    wqi: Option<WaterIndex>,
    /// Why a station shows no index, when it shows none.
    no_data: Option<Text>,
    /// The latest reading of each parameter, and of the water temperature, in the last 24
    /// hours.
    readings: Vec<WaterReading>,
    /// The source, as the decision asks that it be named.
    source: Text,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaterIndex {
    /// 0 to 100: the higher, the cleaner.
    value: u8,
    /// The decision's band, 1 (very good) to 6 (very heavily polluted).
    level: u8,
    band: Text,
    /// The band's colour, `#RRGGBB`.
    colour: String,
    colour_name: Text,
    /// The use water of this quality suits.
    suitable_use: Text,
    /// The groups measured.
    groups: Vec<WaterGroup>,
    /// The groups not measured: left out of the index, never counted clean.
    not_measured: Vec<WaterGroupName>,
    /// What the index cannot say: without pesticides (II) or heavy metals (III) measured, it
    /// does not tell water safe to drink.
    caveat: Option<Text>,
    /// When the newest reading the index took was made, in Vietnam's time.
    measured_at: DateTime<FixedOffset>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaterGroup {
    /// `I` (pH) to `V` (microbiology), as the decision numbers them.
    group: String,
    name: Text,
    /// 0 to 100.
    index: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaterGroupName {
    /// `I` (pH) to `V` (microbiology).
    group: String,
    name: Text,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaterReading {
    /// The VN_WQI parameter (`ph`, `do`, `bod5`...), or `temperature`.
    parameter: String,
    name: Text,
    value: f64,
    /// Empty for pH.
    unit: String,
    /// In Vietnam's time.
    observed_at: DateTime<FixedOffset>,
    /// The parameter's sub-index in the station's index, 0 to 100.
    sub_index: Option<f64>,
    /// For DO, the saturation at the water's temperature its sub-index went by.
    saturation_percent: Option<f64>,
}

/// Water stations with their indexes, nearest first.
#[utoipa::path(get, path = "/v1/environment/water-quality", operation_id = "water_quality", tag = "environment",
    params(NearQuery),
    responses((status = 200, body = WaterStations),
        (status = 422, description = "`invalid_position`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn stations(
    State(state): State<EnvironmentState>,
    QueryParams(near): QueryParams<NearQuery>,
) -> Result<Json<WaterStations>, ApiError> {
    let point = platform::geo::optional_position(near.lat, near.lng)?;
    let now = Utc::now();
    let ids: Vec<String> = state
        .stations
        .water_stations
        .iter()
        .map(|s| s.id.clone())
        .collect();
    let rows = sqlx::query!(
        "SELECT DISTINCT ON (station, parameter) station, parameter, observed_at, value
         FROM water_readings WHERE station = ANY($1) AND observed_at BETWEEN $2 AND $3
         ORDER BY station, parameter, observed_at DESC",
        &ids,
        now - TimeDelta::hours(FRESH_HOURS),
        now + TimeDelta::minutes(AHEAD_MINUTES)
    )
    .fetch_all(&state.pool)
    .await?;
    let mut latest: BTreeMap<String, Vec<(String, DateTime<Utc>, f64)>> = BTreeMap::new();
    for row in rows {
        latest
            .entry(row.station)
            .or_default()
            .push((row.parameter, row.observed_at, row.value));
    }
    let mut stations: Vec<StationWater> = state
        .stations
        .water_stations
        .iter()
        .map(|station| {
            describe(
                station,
                latest.get(&station.id).map_or(&[], Vec::as_slice),
                point,
            )
        })
        .collect();
    match point {
        Some(_) => stations.sort_by(|a, b| {
            a.distance_m
                .unwrap_or(f64::MAX)
                .total_cmp(&b.distance_m.unwrap_or(f64::MAX))
        }),
        None => stations.sort_by(|a, b| a.name.vi.cmp(&b.name.vi)),
    }
    Ok(Json(WaterStations { stations }))
}

/// A station's index from its latest readings, (parameter, time, value) each.
fn describe(
    station: &WaterStation,
    readings: &[(String, DateTime<Utc>, f64)],
    point: Option<(f64, f64)>,
) -> StationWater {
    let temperature = readings
        .iter()
        .find(|(parameter, ..)| parameter == TEMPERATURE)
        .map(|&(_, _, value)| value);
    // DO is scored by its saturation at the water's temperature: without that, it is left out.
    let samples: Vec<(Parameter, f64)> = readings
        .iter()
        .filter_map(|(code, _, value)| Some((Parameter::from_code(code)?, *value)))
        .filter(|(parameter, _)| *parameter != Parameter::Do || temperature.is_some())
        .collect();
    let index = match wqi::wqi(&samples, temperature) {
        Ok(index) => Some(index),
        Err(WqiError::TooFewOrganics { .. } | WqiError::TooFewGroups { .. }) => None,
        Err(error) => {
            // The poll keeps out what no water has; anything else is ours to mend.
            tracing::error!(station = station.id, %error, "water readings give no index");
            None
        }
    };
    let used = |code: &str| {
        Parameter::from_code(code).and_then(|parameter| {
            index
                .as_ref()?
                .sub_indices()
                .iter()
                .find(|s| s.parameter == parameter)
        })
    };
    let measured_at = readings
        .iter()
        .filter(|(code, ..)| used(code).is_some() || (code == TEMPERATURE && used("do").is_some()))
        .map(|&(_, at, _)| at)
        .max();
    let wqi = index.as_ref().zip(measured_at).map(|(index, at)| {
        let band = index.band();
        let not_measured: Vec<Group> = Group::ALL
            .into_iter()
            .filter(|group| index.group_index(*group).is_none())
            .collect();
        let toxic_unmeasured = not_measured.contains(&Group::II) || not_measured.contains(&Group::III);
        WaterIndex {
            value: index.index(),
            level: band.level(),
            band: text(band.name()),
            colour: band.colour().to_owned(),
            colour_name: text(band.colour_name()),
            suitable_use: text(band.suitable_use()),
            groups: index
                .groups()
                .iter()
                .map(|g| WaterGroup {
                    group: format!("{:?}", g.group),
                    name: text(g.group.name()),
                    index: g.index,
                })
                .collect(),
            not_measured: not_measured
                .into_iter()
                .map(|group| WaterGroupName {
                    group: format!("{group:?}"),
                    name: text(group.name()),
                })
                .collect(),
            caveat: toxic_unmeasured.then(|| {
                Text::new(
                    "Trạm chưa đo thuốc bảo vệ thực vật hoặc kim loại nặng: chỉ số này không cho biết nước có an toàn để ăn uống hay không.",
                    "The station does not measure pesticides or heavy metals: this index does not tell whether the water is safe to drink.",
                )
            }),
            measured_at: at.with_timezone(&OFFSET),
        }
    });
    let no_data = wqi.is_none().then(|| {
        Text::new(
            "Trạm chưa có đủ số liệu trong 24 giờ qua để tính chỉ số VN_WQI. Điều này không có nghĩa là nước sạch.",
            "The station has not reported enough in the last 24 hours for a VN_WQI. This does not mean the water is clean.",
        )
    });
    let mut shown: Vec<WaterReading> = readings
        .iter()
        .map(|(code, at, value)| {
            let parameter = Parameter::from_code(code);
            let sub = used(code);
            WaterReading {
                parameter: code.clone(),
                name: match parameter {
                    Some(parameter) => text(parameter.name()),
                    None => Text::new("Nhiệt độ nước", "Water temperature"),
                },
                value: *value,
                unit: parameter.map_or("°C", Parameter::unit).to_owned(),
                observed_at: at.with_timezone(&OFFSET),
                sub_index: sub.map(|s| s.index),
                saturation_percent: sub.and_then(|s| s.saturation_percent),
            }
        })
        .collect();
    // The decision's order, the temperature last.
    shown.sort_by_key(|r| {
        Parameter::from_code(&r.parameter).map_or(usize::MAX, |p| {
            Parameter::ALL
                .iter()
                .position(|&q| q == p)
                .unwrap_or(usize::MAX)
        })
    });
    StationWater {
        id: station.id.clone(),
        name: Text::new(&station.name_vi, &station.name_en),
        lat: station.lat,
        lng: station.lng,
        distance_m: point.map(|(lat, lng)| {
            platform::geo::distance_m(lat, lng, station.lat, station.lng).round()
        }),
        wqi,
        no_data,
        readings: shown,
        source: Text::new(
            "Trạm quan trắc nước mặt; VN_WQI tính theo Quyết định 1460/QĐ-TCMT của Tổng cục Môi trường.",
            "Surface-water monitoring stations; VN_WQI computed as the Vietnam Environment Administration's Decision 1460/QĐ-TCMT sets out.",
        ),
    }
}

fn text((vi, en): (&str, &str)) -> Text {
    Text::new(vi, en)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn station(id: &str) -> WaterStation {
        crate::stations::load(None)
            .unwrap()
            .water_stations
            .into_iter()
            .find(|s| s.id == id)
            .unwrap()
    }

    fn at(hours_ago: i64) -> DateTime<Utc> {
        Utc::now() - TimeDelta::hours(hours_ago)
    }

    #[test]
    fn clean_river_water_is_very_good() {
        let readings = [
            ("temperature", 26.0),
            ("ph", 7.2),
            ("do", 7.3),
            ("bod5", 2.5),
            ("cod", 6.0),
            ("n_nh4", 0.2),
            ("p_po4", 0.06),
            ("coliform", 1500.0),
        ]
        .map(|(code, value)| (code.to_owned(), at(1), value));
        let water = describe(&station("van-nien"), &readings, Some((16.46, 107.58)));
        let index = water.wqi.expect("enough readings for an index");
        assert_eq!((index.value, index.level), (100, 1));
        assert_eq!(index.band.vi, "Rất tốt");
        let groups: Vec<&str> = index.groups.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(groups, ["I", "IV", "V"]);
        let unmeasured: Vec<&str> = index
            .not_measured
            .iter()
            .map(|g| g.group.as_str())
            .collect();
        assert_eq!(unmeasured, ["II", "III"]);
        assert!(
            index.caveat.is_some(),
            "no metals measured: not told safe to drink"
        );
        assert!(water.no_data.is_none());
        let names: Vec<&str> = water
            .readings
            .iter()
            .map(|r| r.parameter.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "ph",
                "do",
                "bod5",
                "cod",
                "n_nh4",
                "p_po4",
                "coliform",
                "temperature"
            ]
        );
        let dissolved = &water.readings[1];
        assert!(
            dissolved
                .saturation_percent
                .is_some_and(|p| (85.0..95.0).contains(&p))
        );
        assert!(water.distance_m.is_some());
    }

    #[test]
    fn ammonium_fouling_the_water_lowers_its_index() {
        let mut readings: Vec<_> = [
            ("temperature", 26.0),
            ("ph", 7.2),
            ("do", 7.3),
            ("bod5", 2.5),
            ("cod", 6.0),
            ("p_po4", 0.06),
            ("coliform", 1500.0),
        ]
        .map(|(code, value)| (code.to_owned(), at(1), value))
        .into();
        readings.push(("n_nh4".to_owned(), at(0), 2.0));
        let water = describe(&station("van-nien"), &readings, None);
        let index = water.wqi.unwrap();
        assert!(index.value < 90, "{}", index.value);
        let ammonium = water
            .readings
            .iter()
            .find(|r| r.parameter == "n_nh4")
            .unwrap();
        assert!(ammonium.sub_index.is_some_and(|s| s < 50.0));
    }

    #[test]
    fn too_few_parameters_are_no_index_never_clean_water() {
        let readings = [
            ("temperature", 27.0),
            ("ph", 7.6),
            ("do", 5.5),
            ("bod5", 6.0),
        ]
        .map(|(code, value)| (code.to_owned(), at(1), value));
        let water = describe(&station("tinh-tam"), &readings, None);
        assert!(water.wqi.is_none());
        assert!(water.no_data.is_some());
        assert_eq!(
            water.readings.len(),
            4,
            "the readings it has are still shown"
        );
        assert!(water.readings.iter().all(|r| r.sub_index.is_none()));
    }

    #[test]
    fn do_without_the_water_temperature_is_left_out() {
        let readings = [
            ("ph", 7.2),
            ("do", 7.3),
            ("bod5", 2.5),
            ("cod", 6.0),
            ("n_nh4", 0.2),
            ("coliform", 1500.0),
        ]
        .map(|(code, value)| (code.to_owned(), at(1), value));
        let water = describe(&station("van-nien"), &readings, None);
        assert!(
            water.wqi.is_some(),
            "BOD5, COD and N-NH4 are three of group IV"
        );
        let dissolved = water.readings.iter().find(|r| r.parameter == "do").unwrap();
        assert_eq!(dissolved.sub_index, None);
    }

    #[test]
    fn a_broken_sensor_makes_no_reading() {
        assert!(plausible("ph", 7.0));
        assert!(!plausible("ph", 15.0));
        assert!(!plausible(TEMPERATURE, -3.0));
        assert!(!plausible("bod5", -0.1));
        assert!(!plausible("cod", f64::NAN));
        assert!(plausible("coliform", 24_000.0));
    }
}
