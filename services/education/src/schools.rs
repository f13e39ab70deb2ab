//! Schools near me (kindergarten to upper secondary, public or private) and the schools that
//! enrol a ward's children, as each jurisdiction's school system lists them. A job copies the
//! schools here on a schedule and indexes them by H3 cell through the same near-me engine as
//! reports and health (`platform::geo`); when the school system is down the last copy serves.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use h3o::Resolution;
use platform::ApiError;
use platform::error::SharedError;
use platform::extract::QueryParams;
use platform::geo::{NearCells, cell_at};
use platform::jobs::{Jobs, lead};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::EducationState;
use crate::oneroster::{OneRoster, Org};

const DEFAULT_RADIUS_M: f64 = 2_000.0;
const MAX_RADIUS_M: f64 = 10_000.0;
const MAX_RESULTS: usize = 50;
/// The levels of Việt Nam's general education, in order.
const LEVELS: &[&str] = &["preschool", "primary", "lower_secondary", "upper_secondary"];

pub fn start_refresh(state: EducationState, jobs: &Jobs) {
    let every = Duration::from_secs(state.config.schools_refresh_secs.max(60));
    jobs.repeat("education.schools", every, None, move || {
        let state = state.clone();
        async move {
            for (jurisdiction, system) in state.systems.iter() {
                if let Err(error) = refresh(&state, jurisdiction, system).await {
                    tracing::warn!(jurisdiction, error = %format!("{error:#}"), "schools not refreshed; the last copy stays");
                }
            }
            Ok(false)
        }
    });
}

#[derive(Default)]
struct Rows {
    id: Vec<String>,
    code: Vec<Option<String>>,
    name: Vec<String>,
    levels: Vec<String>,
    ownership: Vec<String>,
    address: Vec<Option<String>>,
    phone: Vec<Option<String>>,
    ward: Vec<Option<String>>,
    enrolment_wards: Vec<String>,
    latitude: Vec<f64>,
    longitude: Vec<f64>,
    cell: Vec<i64>,
    cell_r7: Vec<i64>,
}

async fn refresh(
    state: &EducationState,
    jurisdiction: &str,
    system: &OneRoster,
) -> anyhow::Result<()> {
    let orgs: Vec<Org> = system
        .collection("rostering/v1p2/schools", "orgs", &[])
        .await?;
    let mut rows = Rows::default();
    for org in orgs {
        let meta = &org.metadata;
        if org.status.as_deref() == Some("tobedeleted") || org.kind != "school" {
            continue;
        }
        let (Some(lat), Some(lng)) = (meta.latitude, meta.longitude) else {
            continue;
        };
        let (Some(cell), Some(coarse)) = (
            cell_at(lat, lng, Resolution::Nine),
            cell_at(lat, lng, Resolution::Seven),
        ) else {
            continue;
        };
        let levels: Vec<&str> = LEVELS
            .iter()
            .copied()
            .filter(|level| meta.levels.iter().any(|l| l == level))
            .collect();
        if levels.is_empty() {
            continue;
        }
        rows.id.push(org.sourced_id.clone());
        rows.code.push(org.identifier.clone());
        rows.name.push(org.name.clone());
        // Arrays of arrays do not UNNEST row by row: each school's lists travel as JSON.
        rows.levels.push(serde_json::to_string(&levels)?);
        rows.ownership.push(
            if meta.ownership.as_deref() == Some("private") {
                "private"
            } else {
                "public"
            }
            .to_owned(),
        );
        rows.address.push(meta.address.clone());
        rows.phone.push(meta.phone.clone());
        rows.ward.push(meta.ward.clone());
        rows.enrolment_wards
            .push(serde_json::to_string(&meta.enrolment_wards)?);
        rows.latitude.push(lat);
        rows.longitude.push(lng);
        rows.cell.push(cell);
        rows.cell_r7.push(coarse);
    }

    let mut tx = state.pool.begin().await?;
    if !lead(&mut tx, &format!("education.schools.{jurisdiction}")).await? {
        return Ok(());
    }
    sqlx::query!("DELETE FROM schools WHERE jurisdiction = $1", jurisdiction)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        r#"INSERT INTO schools (jurisdiction, id, code, name, levels, ownership, address, phone, ward,
                               enrolment_wards, latitude, longitude, cell, cell_r7, refreshed_at)
           SELECT $1::text, id, code, name,
                  ARRAY(SELECT jsonb_array_elements_text(levels::jsonb)),
                  ownership, address, phone, ward,
                  ARRAY(SELECT jsonb_array_elements_text(enrolment_wards::jsonb)),
                  latitude, longitude, cell, cell_r7, now()
           FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::text[], $11::float8[], $12::float8[],
                       $13::int8[], $14::int8[])
                AS s(id, code, name, levels, ownership, address, phone, ward, enrolment_wards,
                     latitude, longitude, cell, cell_r7)"#,
        jurisdiction,
        &rows.id,
        &rows.code as &[Option<String>],
        &rows.name,
        &rows.levels,
        &rows.ownership,
        &rows.address as &[Option<String>],
        &rows.phone as &[Option<String>],
        &rows.ward as &[Option<String>],
        &rows.enrolment_wards,
        &rows.latitude,
        &rows.longitude,
        &rows.cell,
        &rows.cell_r7,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(jurisdiction, schools = rows.id.len(), "schools refreshed");
    Ok(())
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SchoolLevel {
    Preschool,
    Primary,
    LowerSecondary,
    UpperSecondary,
}

impl SchoolLevel {
    fn as_str(self) -> &'static str {
        match self {
            SchoolLevel::Preschool => "preschool",
            SchoolLevel::Primary => "primary",
            SchoolLevel::LowerSecondary => "lower_secondary",
            SchoolLevel::UpperSecondary => "upper_secondary",
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Ownership {
    Public,
    Private,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NearQuery {
    lat: f64,
    lng: f64,
    /// Metres: 2,000 by default, at most 10,000.
    radius_m: Option<f64>,
    /// Only schools teaching this level.
    level: Option<SchoolLevel>,
    /// Only public or only private schools.
    ownership: Option<Ownership>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct School {
    id: String,
    /// The ministry's school code.
    code: Option<String>,
    name: String,
    /// `preschool`, `primary`, `lower_secondary`, `upper_secondary`.
    levels: Vec<String>,
    /// `public` or `private`.
    ownership: String,
    address: Option<String>,
    phone: Option<String>,
    /// The ward it stands in.
    ward: Option<String>,
    /// The wards whose children it enrols; none for a private school.
    enrolment_wards: Vec<String>,
    latitude: f64,
    longitude: f64,
    /// From the point asked about; absent in a ward's list.
    #[serde(skip_serializing_if = "Option::is_none")]
    distance_m: Option<f64>,
    /// When the school system last listed it.
    as_of: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearSchools {
    radius_m: f64,
    /// Nearest first, at most 50.
    schools: Vec<School>,
}

struct SchoolRow {
    id: String,
    code: Option<String>,
    name: String,
    levels: Vec<String>,
    ownership: String,
    address: Option<String>,
    phone: Option<String>,
    ward: Option<String>,
    enrolment_wards: Vec<String>,
    latitude: f64,
    longitude: f64,
    refreshed_at: DateTime<Utc>,
}

impl SchoolRow {
    fn school(self, distance_m: Option<f64>) -> School {
        School {
            id: self.id,
            code: self.code,
            name: self.name,
            levels: self.levels,
            ownership: self.ownership,
            address: self.address,
            phone: self.phone,
            ward: self.ward,
            enrolment_wards: self.enrolment_wards,
            latitude: self.latitude,
            longitude: self.longitude,
            distance_m,
            as_of: self.refreshed_at,
        }
    }
}

/// Schools near a point, nearest first.
#[utoipa::path(get, path = "/v1/education/schools", operation_id = "near_schools", tag = "education",
    params(NearQuery),
    responses((status = 200, body = NearSchools),
        (status = 400, description = "`invalid_query`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_position`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn near(
    State(state): State<EducationState>,
    QueryParams(query): QueryParams<NearQuery>,
) -> Result<Json<NearSchools>, ApiError> {
    let radius = query
        .radius_m
        .unwrap_or(DEFAULT_RADIUS_M)
        .clamp(1.0, MAX_RADIUS_M);
    let cells =
        NearCells::around(query.lat, query.lng, radius).ok_or(SharedError::InvalidPosition)?;
    let rows = sqlx::query_as!(
        SchoolRow,
        r#"SELECT id, code, name, levels, ownership, address, phone, ward, enrolment_wards,
                  latitude, longitude, refreshed_at
           FROM schools
           WHERE (cell = ANY($1) OR cell_r7 = ANY($2))
             AND ($3::text IS NULL OR $3 = ANY(levels))
             AND ($4::text IS NULL OR ownership = $4)
           LIMIT 20000"#,
        &cells.fine,
        &cells.coarse,
        query.level.map(SchoolLevel::as_str),
        query.ownership.map(|o| match o {
            Ownership::Public => "public",
            Ownership::Private => "private",
        }),
    )
    .fetch_all(&state.pool)
    .await?;
    let mut schools: Vec<School> = rows
        .into_iter()
        .map(|row| {
            let distance =
                platform::geo::distance_m(query.lat, query.lng, row.latitude, row.longitude);
            row.school(Some(distance))
        })
        .filter(|s| s.distance_m.is_some_and(|d| d <= radius))
        .collect();
    schools.sort_by(|a, b| {
        a.distance_m
            .unwrap_or(f64::MAX)
            .total_cmp(&b.distance_m.unwrap_or(f64::MAX))
            .then_with(|| a.id.cmp(&b.id))
    });
    schools.truncate(MAX_RESULTS);
    Ok(Json(NearSchools {
        radius_m: radius,
        schools,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentZone {
    ward: String,
    /// The public schools that enrol the ward's children, by level then name.
    schools: Vec<School>,
}

/// The public schools that enrol a ward's children (tuyển sinh theo địa bàn).
#[utoipa::path(get, path = "/v1/education/enrolment-zones/{ward}", operation_id = "get_enrolment_zone", tag = "education",
    params(("ward" = String, Path, description = "The ward's id (`phu-xuan`)")),
    responses((status = 200, body = EnrolmentZone),
        (status = 404, description = "`ward_not_found`: no school enrols this ward", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn enrolment_zone(
    State(state): State<EducationState>,
    Path(ward): Path<String>,
) -> Result<Json<EnrolmentZone>, ApiError> {
    let rows = sqlx::query_as!(
        SchoolRow,
        r#"SELECT id, code, name, levels, ownership, address, phone, ward, enrolment_wards,
                  latitude, longitude, refreshed_at
           FROM schools WHERE enrolment_wards @> ARRAY[$1] AND ownership = 'public'
           ORDER BY array_position($2::text[], levels[1]), name
           LIMIT 500"#,
        ward,
        LEVELS as &[&str],
    )
    .fetch_all(&state.pool)
    .await?;
    if rows.is_empty() {
        return Err(crate::EducationError::WardNotFound.into());
    }
    Ok(Json(EnrolmentZone {
        ward,
        schools: rows.into_iter().map(|row| row.school(None)).collect(),
    }))
}
