//! Health facilities near me (hospitals, clinics and ward health stations, pharmacies) and
//! blood donation drives, as each jurisdiction's health system lists them (`Location`, with
//! `hoursOfOperation` and whether the BHYT card is taken). A job copies them here on a schedule
//! and indexes them by H3 cell, so "near me" is one indexed query rather than a search at the
//! hospital's server for every resident who opens the map; when the server is down the last
//! copy is served.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use h3o::Resolution;
use platform::ApiError;
use platform::error::SharedError;
use platform::extract::QueryParams;
use platform::geo::{NearCells, cell_at, distance_m};
use platform::jobs::{Jobs, lead};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::fhir::FhirClient;
use crate::resources::{self, Address, CodeableConcept, Extension, Period, Reference};
use crate::{HealthState, Text};

/// `Location.extension` (`valueBoolean`): whether the BHYT card is taken there.
pub const ACCEPTS_BHYT_EXTENSION: &str = "urn:citizen:fhir:accepts-bhyt";
/// HL7's service delivery location types (v3 RoleCode) that say what a facility is.
const ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
/// Pages of Locations read per refresh: 20,000 facilities.
const MAX_LOCATION_PAGES: usize = 200;
/// Searched by default, and at most (metres).
const DEFAULT_RADIUS_M: f64 = 2_000.0;
const MAX_RADIUS_M: f64 = 10_000.0;
/// Blood drives within this distance are shown (metres).
const DRIVES_RADIUS_M: f64 = 30_000.0;
const MAX_RESULTS: i64 = 50;

/// What a facility is, by its `Location.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FacilityKind {
    Hospital,
    /// A clinic or a ward health station.
    Clinic,
    Pharmacy,
    BloodDrive,
}

impl FacilityKind {
    fn as_str(self) -> &'static str {
        match self {
            FacilityKind::Hospital => "hospital",
            FacilityKind::Clinic => "clinic",
            FacilityKind::Pharmacy => "pharmacy",
            FacilityKind::BloodDrive => "blood_drive",
        }
    }

    fn of(types: &[CodeableConcept]) -> Option<FacilityKind> {
        let has = |codes: &[&str]| {
            types
                .iter()
                .any(|t| codes.iter().any(|code| t.code_in(ROLE_CODE) == Some(code)))
        };
        if has(&["MOBL"]) {
            Some(FacilityKind::BloodDrive)
        } else if has(&["PHARM", "OUTPHARM", "COMM"]) {
            Some(FacilityKind::Pharmacy)
        } else if has(&["HOSP", "GACH", "PEDU", "CHR", "HU", "ER"]) {
            Some(FacilityKind::Hospital)
        } else if has(&["PC", "OF", "AMB", "COAG", "PEDC", "PEDICU", "GIM", "FMC"]) {
            Some(FacilityKind::Clinic)
        } else {
            None
        }
    }
}

/// Starts the job that copies each jurisdiction's facilities here.
pub fn start_refresh(state: HealthState, jobs: &Jobs) {
    let every = Duration::from_secs(state.config.facilities_refresh_secs.max(60));
    jobs.repeat("health.facilities", every, None, move || {
        let state = state.clone();
        async move {
            for (jurisdiction, fhir) in state.systems.iter() {
                if let Err(error) = refresh(&state, jurisdiction, fhir).await {
                    tracing::warn!(jurisdiction, error = %format!("{error:#}"), "facilities not refreshed; the last copy stays");
                }
            }
            Ok(false)
        }
    });
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Location {
    id: String,
    status: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Vec<CodeableConcept>,
    telecom: Vec<ContactPoint>,
    address: Option<Address>,
    position: Option<Position>,
    hours_of_operation: Vec<Hours>,
    extension: Vec<Extension>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ContactPoint {
    system: Option<String>,
    value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Position {
    latitude: f64,
    longitude: f64,
}

/// A FHIR `Location.hoursOfOperation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Hours {
    /// `mon` to `sun`.
    days_of_week: Vec<String>,
    all_day: Option<bool>,
    /// `07:00:00`, local time.
    opening_time: Option<String>,
    closing_time: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Schedule {
    actor: Vec<Reference>,
    planning_horizon: Option<Period>,
}

/// Copies one jurisdiction's facilities: all of them replace the last copy at once, or
/// nothing changes.
async fn refresh(state: &HealthState, jurisdiction: &str, fhir: &FhirClient) -> anyhow::Result<()> {
    let found = fhir
        .search_pages("Location", &[("status", "active")], MAX_LOCATION_PAGES)
        .await?;
    let locations: Vec<Location> = resources::of_kind(&found, "Location");
    let drives: Vec<String> = locations
        .iter()
        .filter(|l| FacilityKind::of(&l.kind) == Some(FacilityKind::BloodDrive))
        .map(|l| format!("Location/{}", l.id))
        .collect();
    // A drive is when its schedule's horizon says.
    let mut when: HashMap<String, (DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
    for chunk in drives.chunks(50) {
        let schedules: Vec<Schedule> = resources::of_kind(
            &fhir
                .search("Schedule", &[("actor", &chunk.join(","))])
                .await?,
            "Schedule",
        );
        for schedule in schedules {
            let Some(horizon) = schedule.planning_horizon else {
                continue;
            };
            let parse = |t: Option<&str>| {
                DateTime::parse_from_rfc3339(t?)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            };
            let (Some(start), Some(end)) = (
                parse(horizon.start.as_deref()),
                parse(horizon.end.as_deref()),
            ) else {
                continue;
            };
            for actor in schedule.actor.iter().filter_map(|a| a.id_of("Location")) {
                when.insert(actor.to_owned(), (start, end));
            }
        }
    }

    let mut rows = Rows::default();
    for location in locations {
        if location.status.as_deref().is_some_and(|s| s != "active") {
            continue;
        }
        let (Some(kind), Some(position)) = (FacilityKind::of(&location.kind), &location.position)
        else {
            continue;
        };
        let (Some(cell), Some(coarse)) = (
            cell_at(position.latitude, position.longitude, Resolution::Nine),
            cell_at(position.latitude, position.longitude, Resolution::Seven),
        ) else {
            continue;
        };
        let drive = when.get(&location.id);
        if kind == FacilityKind::BloodDrive && drive.is_none() {
            continue;
        }
        rows.id.push(location.id.clone());
        rows.kind.push(kind.as_str().to_owned());
        rows.name.push(location.name.clone().unwrap_or_default());
        rows.address
            .push(location.address.as_ref().map(Address::label));
        rows.phone.push(
            location
                .telecom
                .iter()
                .find(|t| t.system.as_deref() == Some("phone"))
                .and_then(|t| t.value.clone()),
        );
        rows.latitude.push(position.latitude);
        rows.longitude.push(position.longitude);
        rows.cell.push(cell);
        rows.coarse_cell.push(coarse);
        rows.accepts_bhyt.push(
            location
                .extension
                .iter()
                .find(|e| e.url == ACCEPTS_BHYT_EXTENSION)
                .and_then(|e| e.value_boolean),
        );
        rows.hours
            .push(serde_json::to_value(&location.hours_of_operation)?);
        rows.starts_at.push(drive.map(|(start, _)| *start));
        rows.ends_at.push(drive.map(|(_, end)| *end));
    }

    let mut tx = state.pool.begin().await?;
    if !lead(&mut tx, &format!("health.facilities.{jurisdiction}")).await? {
        return Ok(());
    }
    sqlx::query!(
        "DELETE FROM facilities WHERE jurisdiction = $1",
        jurisdiction
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO facilities (jurisdiction, id, kind, name, address, phone, latitude, longitude,
                                  cell, cell_r7, accepts_bhyt, hours, starts_at, ends_at, refreshed_at)
           SELECT $1::text, *, now() FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                  $7::float8[], $8::float8[], $9::int8[], $10::int8[], $11::bool[],
                                  $12::jsonb[], $13::timestamptz[], $14::timestamptz[])"#,
        jurisdiction,
        &rows.id,
        &rows.kind,
        &rows.name,
        &rows.address as &[Option<String>],
        &rows.phone as &[Option<String>],
        &rows.latitude,
        &rows.longitude,
        &rows.cell,
        &rows.coarse_cell,
        &rows.accepts_bhyt as &[Option<bool>],
        &rows.hours,
        &rows.starts_at as &[Option<DateTime<Utc>>],
        &rows.ends_at as &[Option<DateTime<Utc>>],
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(
        jurisdiction,
        facilities = rows.id.len(),
        "health facilities refreshed"
    );
    Ok(())
}

#[derive(Default)]
struct Rows {
    id: Vec<String>,
    kind: Vec<String>,
    name: Vec<String>,
    address: Vec<Option<String>>,
    phone: Vec<Option<String>>,
    latitude: Vec<f64>,
    longitude: Vec<f64>,
    cell: Vec<i64>,
    coarse_cell: Vec<i64>,
    accepts_bhyt: Vec<Option<bool>>,
    hours: Vec<serde_json::Value>,
    starts_at: Vec<Option<DateTime<Utc>>>,
    ends_at: Vec<Option<DateTime<Utc>>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NearQuery {
    lat: f64,
    lng: f64,
    /// Metres: 2,000 by default, at most 10,000.
    radius_m: Option<f64>,
    /// `hospital`, `clinic` or `pharmacy`; all three when absent.
    kind: Option<FacilityKind>,
    /// Only those that take the BHYT card.
    accepts_bhyt: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearFacilities {
    radius_m: f64,
    /// Nearest first, at most 50.
    facilities: Vec<Facility>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Facility {
    id: String,
    kind: FacilityKind,
    name: String,
    address: Option<String>,
    phone: Option<String>,
    latitude: f64,
    longitude: f64,
    distance_m: f64,
    /// Whether the BHYT card is taken; unknown when absent.
    accepts_bhyt: Option<bool>,
    /// Open at this moment, by its hours in Việt Nam's time; unknown without hours.
    open_now: Option<bool>,
    /// When it opens, as the health system gives it.
    hours: Vec<Hours>,
    /// When the health system last listed it.
    as_of: DateTime<Utc>,
}

/// Hospitals, clinics and pharmacies near a point, nearest first.
#[utoipa::path(get, path = "/v1/health/facilities", operation_id = "near_health_facilities", tag = "health",
    params(NearQuery),
    responses((status = 200, body = NearFacilities),
        (status = 400, description = "`invalid_query`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_position`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn near(
    State(state): State<HealthState>,
    QueryParams(query): QueryParams<NearQuery>,
) -> Result<Json<NearFacilities>, ApiError> {
    let radius = query
        .radius_m
        .unwrap_or(DEFAULT_RADIUS_M)
        .clamp(1.0, MAX_RADIUS_M);
    let cells =
        NearCells::around(query.lat, query.lng, radius).ok_or(SharedError::InvalidPosition)?;
    let kinds: Vec<&str> = match query.kind {
        Some(FacilityKind::BloodDrive) | None => vec!["hospital", "clinic", "pharmacy"],
        Some(kind) => vec![kind.as_str()],
    };
    // A jurisdiction lists a few thousand facilities: the bound is above any city's, and keeps
    // memory bounded.
    let rows = sqlx::query_as!(
        FacilityRow,
        r#"SELECT id, kind, name, address, phone, latitude, longitude, accepts_bhyt, hours,
                  starts_at, ends_at, refreshed_at
           FROM facilities
           WHERE (cell = ANY($1) OR cell_r7 = ANY($2)) AND kind = ANY($3)
             AND ($4::bool IS NULL OR accepts_bhyt = $4)
           LIMIT 20000"#,
        &cells.fine,
        &cells.coarse,
        &kinds as &[&str],
        query.accepts_bhyt,
    )
    .fetch_all(&state.pool)
    .await?;
    let now = Utc::now();
    let mut facilities: Vec<Facility> = rows
        .into_iter()
        .map(|row| row.facility(query.lat, query.lng, now))
        .filter(|f| f.distance_m <= radius)
        .collect();
    facilities.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then_with(|| a.id.cmp(&b.id))
    });
    facilities.truncate(MAX_RESULTS as usize);
    Ok(Json(NearFacilities {
        radius_m: radius,
        facilities,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DrivesQuery {
    lat: f64,
    lng: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BloodDrives {
    /// Upcoming drives within 30 km, soonest first.
    drives: Vec<BloodDrive>,
    /// What to bring and who may give, in Vietnamese and English.
    advice: Text,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BloodDrive {
    id: String,
    name: String,
    address: Option<String>,
    latitude: f64,
    longitude: f64,
    distance_m: f64,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

/// Blood donation drives coming up near a point, soonest first.
#[utoipa::path(get, path = "/v1/health/blood-drives", operation_id = "upcoming_blood_drives", tag = "health",
    params(DrivesQuery),
    responses((status = 200, body = BloodDrives),
        (status = 422, description = "`invalid_position`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn blood_drives(
    State(state): State<HealthState>,
    QueryParams(query): QueryParams<DrivesQuery>,
) -> Result<Json<BloodDrives>, ApiError> {
    if !platform::geo::valid_position(query.lat, query.lng) {
        return Err(SharedError::InvalidPosition.into());
    }
    // Drives are few: the upcoming ones are measured one by one.
    let rows = sqlx::query_as!(
        FacilityRow,
        r#"SELECT id, kind, name, address, phone, latitude, longitude, accepts_bhyt, hours,
                  starts_at, ends_at, refreshed_at
           FROM facilities WHERE kind = 'blood_drive' AND ends_at > now()
           ORDER BY starts_at LIMIT 1000"#
    )
    .fetch_all(&state.pool)
    .await?;
    let drives = rows
        .into_iter()
        .filter_map(|row| {
            let distance_m = distance_m(query.lat, query.lng, row.latitude, row.longitude);
            Some(BloodDrive {
                starts_at: row.starts_at?,
                ends_at: row.ends_at?,
                id: row.id,
                name: row.name,
                address: row.address,
                latitude: row.latitude,
                longitude: row.longitude,
                distance_m: distance_m.round(),
            })
        })
        .filter(|drive| drive.distance_m <= DRIVES_RADIUS_M)
        .take(MAX_RESULTS as usize)
        .collect();
    Ok(Json(BloodDrives {
        drives,
        advice: Text::new(
            "Người từ 18 đến 60 tuổi, nặng từ 42 kg (nữ) hoặc 45 kg (nam), khỏe mạnh có thể hiến máu. Mang theo căn cước công dân, ăn nhẹ và không uống rượu bia trước khi hiến.",
            "People aged 18 to 60 who weigh at least 42 kg (women) or 45 kg (men) and are in good health may give blood. Bring your citizen ID card, eat lightly and drink no alcohol beforehand.",
        ),
    }))
}

struct FacilityRow {
    id: String,
    kind: String,
    name: String,
    address: Option<String>,
    phone: Option<String>,
    latitude: f64,
    longitude: f64,
    accepts_bhyt: Option<bool>,
    hours: serde_json::Value,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    refreshed_at: DateTime<Utc>,
}

impl FacilityRow {
    fn facility(self, latitude: f64, longitude: f64, now: DateTime<Utc>) -> Facility {
        let hours: Vec<Hours> = serde_json::from_value(self.hours).unwrap_or_default();
        Facility {
            kind: match self.kind.as_str() {
                "hospital" => FacilityKind::Hospital,
                "pharmacy" => FacilityKind::Pharmacy,
                "blood_drive" => FacilityKind::BloodDrive,
                _ => FacilityKind::Clinic,
            },
            distance_m: distance_m(latitude, longitude, self.latitude, self.longitude).round(),
            open_now: open_at(&hours, now),
            id: self.id,
            name: self.name,
            address: self.address,
            phone: self.phone,
            latitude: self.latitude,
            longitude: self.longitude,
            accepts_bhyt: self.accepts_bhyt,
            hours,
            as_of: self.refreshed_at,
        }
    }
}

/// Whether `hours` has it open at `at`, in Việt Nam's time; `None` without any hours.
fn open_at(hours: &[Hours], at: DateTime<Utc>) -> Option<bool> {
    if hours.is_empty() {
        return None;
    }
    let local = at
        .with_timezone(&platform::vietnam_time::OFFSET)
        .naive_local();
    let day = match local.weekday() {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    };
    let time = local.time();
    let parse = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| NaiveTime::parse_from_str(t, "%H:%M:%S").ok())
    };
    Some(
        hours
            .iter()
            .filter(|h| h.days_of_week.iter().any(|d| d == day))
            .any(|h| {
                if h.all_day == Some(true) {
                    return true;
                }
                match (parse(&h.opening_time), parse(&h.closing_time)) {
                    (Some(opens), Some(closes)) => opens <= time && time < closes,
                    _ => false,
                }
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn hours(days: &[&str], opens: &str, closes: &str) -> Hours {
        Hours {
            days_of_week: days.iter().map(|d| (*d).to_owned()).collect(),
            all_day: None,
            opening_time: Some(opens.to_owned()),
            closing_time: Some(closes.to_owned()),
        }
    }

    #[test]
    fn opening_hours_are_read_in_vietnams_time() {
        let station = [
            hours(&["mon", "tue", "wed", "thu", "fri"], "07:00:00", "11:30:00"),
            hours(&["sat"], "07:00:00", "11:00:00"),
        ];
        // Monday 2026-12-07 08:00 in Huế is 01:00 UTC.
        let at = |d, h, m| {
            Utc.with_ymd_and_hms(2026, 12, d, h, m, 0)
                .single()
                .unwrap_or_default()
        };
        assert_eq!(open_at(&station, at(7, 1, 0)), Some(true));
        // 11:30 in Huế: closed.
        assert_eq!(open_at(&station, at(7, 4, 30)), Some(false));
        // Sunday morning in Huế (Saturday 23:00 UTC is Sunday 06:00): closed all day.
        assert_eq!(open_at(&station, at(13, 2, 0)), Some(false));
        // Saturday 10:59 in Huế.
        assert_eq!(open_at(&station, at(12, 3, 59)), Some(true));
        let always = [Hours {
            days_of_week: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .map(str::to_owned)
                .to_vec(),
            all_day: Some(true),
            ..Hours::default()
        }];
        assert_eq!(open_at(&always, at(13, 20, 0)), Some(true));
        assert_eq!(open_at(&[], at(13, 20, 0)), None);
    }

    #[test]
    fn distances_are_great_circle_metres() {
        // Huế Central Hospital to the Imperial City's Ngọ Môn gate: about 1.5 km.
        let d = distance_m(16.4619, 107.5887, 16.4677, 107.5776);
        assert!((1_200.0..1_500.0).contains(&d), "{d}");
        assert_eq!(distance_m(16.46, 107.59, 16.46, 107.59), 0.0);
    }

    #[test]
    fn kinds_come_from_hl7_location_types() {
        let of = |code: &str| {
            FacilityKind::of(&[CodeableConcept {
                coding: vec![resources::Coding {
                    system: Some(ROLE_CODE.to_owned()),
                    code: Some(code.to_owned()),
                    display: None,
                }],
                text: None,
            }])
        };
        assert_eq!(of("HOSP"), Some(FacilityKind::Hospital));
        assert_eq!(of("PC"), Some(FacilityKind::Clinic));
        assert_eq!(of("PHARM"), Some(FacilityKind::Pharmacy));
        assert_eq!(of("MOBL"), Some(FacilityKind::BloodDrive));
        assert_eq!(of("SLEEP"), None);
    }
}
