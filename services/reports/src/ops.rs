//! The operations centre's view: KPIs over a time window (JSON or CSV) and H3 heatmaps (GeoJSON
//! hexagons), for staff within their scope. The figures are about the reports received in the
//! window, wherever they are now.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use h3o::{CellIndex, LatLng, Resolution};
use platform::ApiError;
use platform::auth::Principal;
use platform::extract::QueryParams;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::ReportsError;
use crate::domain::ReportsState;
use crate::domain::access::StaffScope;
use crate::domain::workflow::Status;

/// The longest window one request may cover.
const MAX_WINDOW_DAYS: i64 = 366;
const DEFAULT_WINDOW_DAYS: i64 = 30;
/// The most hexagons one heatmap may hold: choose a coarser resolution beyond.
const MAX_HEXAGONS: usize = 50_000;
/// Days are counted in the city's time.
const TIME_ZONE: &str = "Asia/Ho_Chi_Minh";

/// A window and the jurisdiction it is about, checked against the caller's scope.
struct Window {
    scope: StaffScope,
    jurisdiction: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

fn window(
    principal: &Principal,
    jurisdiction: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Window, ApiError> {
    let scope = StaffScope::of(principal)?;
    let jurisdiction = match jurisdiction {
        Some(asked) if scope.all || asked == scope.jurisdiction => asked,
        Some(_) => return Err(ApiError::route_not_found()),
        None if !scope.jurisdiction.is_empty() => scope.jurisdiction.clone(),
        None => {
            return Err(ReportsError::JurisdictionRequired.into());
        }
    };
    let to = to.unwrap_or_else(Utc::now);
    let from = from.unwrap_or(to - Duration::days(DEFAULT_WINDOW_DAYS));
    if from >= to || to - from > Duration::days(MAX_WINDOW_DAYS) {
        return Err(ReportsError::InvalidWindow {
            max_days: MAX_WINDOW_DAYS,
        }
        .into());
    }
    Ok(Window {
        scope,
        jurisdiction,
        from,
        to,
    })
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// One group: the whole window.
    #[default]
    None,
    Ward,
    Department,
    Category,
}

impl GroupBy {
    fn as_str(self) -> &'static str {
        match self {
            GroupBy::None => "none",
            GroupBy::Ward => "ward",
            GroupBy::Department => "department",
            GroupBy::Category => "category",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Json,
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// Required of platform admins; the caller's own otherwise.
    jurisdiction: Option<String>,
    /// RFC 3339; 30 days before `to` by default.
    from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive; now by default.
    to: Option<DateTime<Utc>>,
    #[serde(default)]
    #[param(inline)]
    group_by: GroupBy,
    ward: Option<String>,
    department: Option<String>,
    category: Option<String>,
    #[serde(default)]
    #[param(inline)]
    format: Format,
}

/// Median and 90th percentile of a duration, in hours; `null` without data.
#[derive(Debug, Serialize, ToSchema)]
pub struct Spread {
    median_hours: Option<f64>,
    p90_hours: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Kpis {
    /// The ward, department or category id; absent for the total.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    received: i64,
    /// Where the reports received stand now, by status.
    #[schema(value_type = Object)]
    by_status: serde_json::Map<String, Value>,
    /// Reports resolved at least once.
    resolved: i64,
    time_to_accept: Spread,
    time_to_resolve: Spread,
    /// Of the resolved, the share resolved without ever going past their deadline.
    sla_compliance_pct: Option<f64>,
    /// Of the resolved, the share their reporter reopened.
    reopen_rate_pct: Option<f64>,
    average_rating: Option<f64>,
    ratings: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Day {
    date: NaiveDate,
    received: i64,
    /// Of the window's reports, those first resolved that day.
    resolved: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KpiReport {
    jurisdiction: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: String,
    total: Kpis,
    groups: Vec<Kpis>,
    per_day: Vec<Day>,
}

/// KPIs of the reports received in a window, for the caller's scope: in total, per ward,
/// department or category, and per day. `format=csv` gives the groups and the total as CSV.
#[utoipa::path(get, path = "/v1/ops/kpis", tag = "operations", params(KpiQuery),
    responses(
        (status = 200, description = "JSON, or `text/csv` with `format=csv`", content(
            (KpiReport = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, body = platform::error::Problem, description = "`invalid_window`, `jurisdiction_required`, `invalid_query`"),
        (status = 404, body = platform::error::Problem, description = "Not staff, or not this jurisdiction's"),
    ),
    security(("bearer" = [])))]
pub async fn kpis(
    State(state): State<ReportsState>,
    principal: Principal,
    QueryParams(query): QueryParams<KpiQuery>,
) -> Result<Response, ApiError> {
    let window = window(&principal, query.jurisdiction.clone(), query.from, query.to)?;
    let scope = &window.scope;
    let rows = sqlx::query!(
        r#"WITH scoped AS (
               SELECT CASE $4 WHEN 'ward' THEN ward_id WHEN 'department' THEN department_id
                              WHEN 'category' THEN category_code ELSE NULL END AS key,
                      status, created_at, accepted_at, first_resolved_at, overdue_at, reopen_count,
                      rating
               FROM reports
               WHERE jurisdiction_id = $1 AND created_at >= $2 AND created_at < $3
                 AND ($5::text IS NULL OR ward_id = $5)
                 AND ($6::text IS NULL OR department_id = $6)
                 AND ($7::text IS NULL OR category_code = $7)
                 AND ($8 OR ward_id = ANY($9) OR department_id = ANY($10)))
           SELECT key, grouping(key) = 1 AS "total!",
                  count(*) AS "received!",
                  count(*) FILTER (WHERE status = 'submitted') AS "submitted!",
                  count(*) FILTER (WHERE status = 'accepted') AS "accepted!",
                  count(*) FILTER (WHERE status = 'assigned') AS "assigned!",
                  count(*) FILTER (WHERE status = 'in_progress') AS "in_progress!",
                  count(*) FILTER (WHERE status = 'resolved') AS "now_resolved!",
                  count(*) FILTER (WHERE status = 'closed') AS "closed!",
                  count(*) FILTER (WHERE status = 'rejected') AS "rejected!",
                  count(*) FILTER (WHERE status = 'reopened') AS "reopened!",
                  count(first_resolved_at) AS "resolved!",
                  percentile_cont(0.5) WITHIN GROUP
                      (ORDER BY extract(epoch FROM accepted_at - created_at)) AS accept_p50,
                  percentile_cont(0.9) WITHIN GROUP
                      (ORDER BY extract(epoch FROM accepted_at - created_at)) AS accept_p90,
                  percentile_cont(0.5) WITHIN GROUP
                      (ORDER BY extract(epoch FROM first_resolved_at - created_at)) AS resolve_p50,
                  percentile_cont(0.9) WITHIN GROUP
                      (ORDER BY extract(epoch FROM first_resolved_at - created_at)) AS resolve_p90,
                  count(*) FILTER (WHERE first_resolved_at IS NOT NULL AND overdue_at IS NULL)
                      AS "in_time!",
                  count(*) FILTER (WHERE first_resolved_at IS NOT NULL AND reopen_count > 0)
                      AS "ever_reopened!",
                  avg(rating)::float8 AS average_rating,
                  count(rating) AS "ratings!"
           FROM scoped GROUP BY GROUPING SETS ((key), ())
           ORDER BY 2, 1"#,
        window.jurisdiction,
        window.from,
        window.to,
        query.group_by.as_str(),
        query.ward,
        query.department,
        query.category,
        scope.whole,
        &scope.wards,
        &scope.departments
    )
    .fetch_all(&state.pool)
    .await?;
    let hours = |seconds: Option<f64>| seconds.map(|s| (s / 36.0).round() / 100.0);
    let share = |part: i64, whole: i64| {
        (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
    };
    let mut total = None;
    let mut groups = Vec::new();
    for row in rows {
        // In `Status::ALL`'s order, which `by_status` zips them with.
        let counts = [
            row.submitted,
            row.accepted,
            row.assigned,
            row.in_progress,
            row.now_resolved,
            row.closed,
            row.rejected,
            row.reopened,
        ];
        let kpis = Kpis {
            key: (!row.total).then(|| row.key.clone().unwrap_or_default()),
            received: row.received,
            by_status: Status::ALL
                .iter()
                .zip(counts)
                .map(|(status, n)| (status.as_str().to_owned(), json!(n)))
                .collect(),
            resolved: row.resolved,
            time_to_accept: Spread {
                median_hours: hours(row.accept_p50),
                p90_hours: hours(row.accept_p90),
            },
            time_to_resolve: Spread {
                median_hours: hours(row.resolve_p50),
                p90_hours: hours(row.resolve_p90),
            },
            sla_compliance_pct: share(row.in_time, row.resolved),
            reopen_rate_pct: share(row.ever_reopened, row.resolved),
            average_rating: row.average_rating.map(|r| (r * 100.0).round() / 100.0),
            ratings: row.ratings,
        };
        if row.total {
            total = Some(kpis);
        } else if query.group_by != GroupBy::None {
            groups.push(kpis);
        }
    }
    // No report at all: the grand total of nothing.
    let total = total.unwrap_or_else(|| Kpis {
        key: None,
        received: 0,
        by_status: Status::ALL
            .iter()
            .map(|status| (status.as_str().to_owned(), json!(0)))
            .collect(),
        resolved: 0,
        time_to_accept: Spread {
            median_hours: None,
            p90_hours: None,
        },
        time_to_resolve: Spread {
            median_hours: None,
            p90_hours: None,
        },
        sla_compliance_pct: None,
        reopen_rate_pct: None,
        average_rating: None,
        ratings: 0,
    });
    let report = KpiReport {
        per_day: per_day(&state.pool, &window, &query).await?,
        jurisdiction: window.jurisdiction,
        from: window.from,
        to: window.to,
        group_by: query.group_by.as_str().to_owned(),
        total,
        groups,
    };
    Ok(match query.format {
        Format::Json => Json(report).into_response(),
        Format::Csv => csv(&report),
    })
}

/// Received and first resolved per day (in the city's time), of the window's reports.
async fn per_day(pool: &PgPool, window: &Window, query: &KpiQuery) -> Result<Vec<Day>, ApiError> {
    let scope = &window.scope;
    let days = sqlx::query!(
        r#"WITH scoped AS (
               SELECT created_at, first_resolved_at FROM reports
               WHERE jurisdiction_id = $1 AND created_at >= $2 AND created_at < $3
                 AND ($4::text IS NULL OR ward_id = $4)
                 AND ($5::text IS NULL OR department_id = $5)
                 AND ($6::text IS NULL OR category_code = $6)
                 AND ($7 OR ward_id = ANY($8) OR department_id = ANY($9)))
           SELECT day AS "date!", sum(received)::bigint AS "received!",
                  sum(resolved)::bigint AS "resolved!"
           FROM (SELECT (created_at AT TIME ZONE $10)::date AS day, 1 AS received, 0 AS resolved
                 FROM scoped
                 UNION ALL
                 SELECT (first_resolved_at AT TIME ZONE $10)::date, 0, 1
                 FROM scoped WHERE first_resolved_at IS NOT NULL) d
           GROUP BY day ORDER BY day"#,
        window.jurisdiction,
        window.from,
        window.to,
        query.ward,
        query.department,
        query.category,
        scope.whole,
        &scope.wards,
        &scope.departments,
        TIME_ZONE
    )
    .fetch_all(pool)
    .await?;
    Ok(days
        .into_iter()
        .map(|d| Day {
            date: d.date,
            received: d.received,
            resolved: d.resolved,
        })
        .collect())
}

/// The groups and the total (key `total`) as CSV, one row each.
fn csv(report: &KpiReport) -> Response {
    let mut text = String::from("key,received");
    for status in Status::ALL {
        let _ = write!(text, ",{}", status.as_str());
    }
    text.push_str(",resolved,accept_median_hours,accept_p90_hours,resolve_median_hours,resolve_p90_hours,sla_compliance_pct,reopen_rate_pct,average_rating,ratings\n");
    let number = |value: Option<f64>| value.map(|v| v.to_string()).unwrap_or_default();
    for kpis in report.groups.iter().chain(std::iter::once(&report.total)) {
        // Keys are ids (`[a-z0-9_-]`): nothing to quote.
        let _ = write!(
            text,
            "{},{}",
            kpis.key.as_deref().unwrap_or("total"),
            kpis.received
        );
        for status in Status::ALL {
            let _ = write!(text, ",{}", kpis.by_status[status.as_str()]);
        }
        let _ = writeln!(
            text,
            ",{},{},{},{},{},{},{},{},{}",
            kpis.resolved,
            number(kpis.time_to_accept.median_hours),
            number(kpis.time_to_accept.p90_hours),
            number(kpis.time_to_resolve.median_hours),
            number(kpis.time_to_resolve.p90_hours),
            number(kpis.sla_compliance_pct),
            number(kpis.reopen_rate_pct),
            number(kpis.average_rating),
            kpis.ratings
        );
    }
    let mut response = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response();
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "attachment; filename=\"kpis-{}-{}.csv\"",
        report.jurisdiction,
        report.from.format("%Y%m%d")
    )) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HeatmapQuery {
    /// Required of platform admins; the caller's own otherwise.
    jurisdiction: Option<String>,
    /// H3 resolution, 6 (~36 km² cells) to 10 (~0.015 km²); 8 by default.
    res: Option<u8>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    category: Option<String>,
    status: Option<String>,
}

/// Reports received in a window, counted per H3 cell, as GeoJSON hexagons for the IOC's map.
#[utoipa::path(get, path = "/v1/ops/heatmap", tag = "operations", params(HeatmapQuery),
    responses(
        (status = 200, description = "A GeoJSON FeatureCollection of cell polygons with `cell` and `count`", content_type = "application/geo+json"),
        (status = 400, body = platform::error::Problem, description = "`invalid_resolution`, `invalid_window`, `invalid_status`, `heatmap_too_detailed`"),
        (status = 404, body = platform::error::Problem),
    ),
    security(("bearer" = [])))]
pub async fn heatmap(
    State(state): State<ReportsState>,
    principal: Principal,
    QueryParams(query): QueryParams<HeatmapQuery>,
) -> Result<Response, ApiError> {
    let window = window(&principal, query.jurisdiction.clone(), query.from, query.to)?;
    let resolution = query
        .res
        .unwrap_or(8)
        .try_into()
        .ok()
        .filter(|r: &Resolution| (Resolution::Six..=Resolution::Ten).contains(r))
        .ok_or(ReportsError::InvalidResolution)?;
    if let Some(status) = &query.status
        && Status::parse(status).is_none()
    {
        let allowed: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        return Err(ReportsError::InvalidStatus {
            status: status.clone(),
            allowed: allowed.join(", "),
        }
        .into());
    }
    let (clear, set) = parent_masks(resolution);
    let scope = &window.scope;
    let cells = sqlx::query!(
        r#"SELECT (h3_res15 & $4) | $5 AS "cell!", count(*) AS "count!"
           FROM reports
           WHERE jurisdiction_id = $1 AND created_at >= $2 AND created_at < $3
             AND h3_res15 IS NOT NULL
             AND ($6::text IS NULL OR category_code = $6)
             AND ($7::text IS NULL OR status = $7)
             AND ($8 OR ward_id = ANY($9) OR department_id = ANY($10))
           GROUP BY 1"#,
        window.jurisdiction,
        window.from,
        window.to,
        clear,
        set,
        query.category,
        query.status,
        scope.whole,
        &scope.wards,
        &scope.departments
    )
    .fetch_all(&state.pool)
    .await?;
    if cells.len() > MAX_HEXAGONS {
        return Err(ReportsError::HeatmapTooDetailed { max: MAX_HEXAGONS }.into());
    }
    let features: Vec<Value> = cells
        .into_iter()
        .filter_map(|row| {
            let cell = CellIndex::try_from(row.cell as u64).ok()?;
            let mut ring: Vec<[f64; 2]> = cell
                .boundary()
                .iter()
                .map(|vertex| [vertex.lng(), vertex.lat()])
                .collect();
            ring.push(*ring.first()?);
            Some(json!({
                "type": "Feature",
                "geometry": { "type": "Polygon", "coordinates": [ring] },
                "properties": { "cell": cell.to_string(), "count": row.count },
            }))
        })
        .collect();
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        Json(json!({
            "type": "FeatureCollection",
            "features": features,
            "resolution": u8::from(resolution),
            "from": window.from,
            "to": window.to,
        })),
    )
        .into_response())
}

/// The masks turning a res-15 cell (as stored) into its parent at `resolution`:
/// `(cell & clear) | set`. An H3 index keeps its resolution in bits 52-55 and one 3-bit digit
/// per resolution below; a parent has its own resolution there and 7 in every finer digit.
fn parent_masks(resolution: Resolution) -> (i64, i64) {
    let level = u64::from(u8::from(resolution));
    let clear = !(0xF_u64 << 52);
    let unused_digits = ((level + 1)..=15).fold(0_u64, |mask, r| mask | (7 << ((15 - r) * 3)));
    (clear as i64, ((level << 52) | unused_digits) as i64)
}

/// Gives reports filed before heatmaps existed their res-15 cell, in batches.
pub async fn fill_missing_cells(pool: &PgPool) -> anyhow::Result<()> {
    loop {
        let rows = sqlx::query!(
            "SELECT id, latitude, longitude FROM reports WHERE h3_res15 IS NULL LIMIT 5000"
        )
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut cells = Vec::with_capacity(rows.len());
        for row in rows {
            let cell = LatLng::new(row.latitude, row.longitude)?.to_cell(Resolution::Fifteen);
            ids.push(row.id);
            cells.push(u64::from(cell) as i64);
        }
        sqlx::query!(
            r#"UPDATE reports r SET h3_res15 = c.cell
               FROM unnest($1::uuid[], $2::bigint[]) AS c(id, cell) WHERE r.id = c.id"#,
            &ids as &[Uuid],
            &cells
        )
        .execute(pool)
        .await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_masks_give_the_parent_h3_gives() {
        for (lat, lng) in [(16.4637, 107.5909), (-33.86, 151.2), (64.1, -21.9)] {
            let fine = LatLng::new(lat, lng).unwrap().to_cell(Resolution::Fifteen);
            for resolution in [
                Resolution::Six,
                Resolution::Seven,
                Resolution::Eight,
                Resolution::Nine,
                Resolution::Ten,
            ] {
                let (clear, set) = parent_masks(resolution);
                let masked = ((u64::from(fine) as i64 & clear) | set) as u64;
                assert_eq!(masked, u64::from(fine.parent(resolution).unwrap()));
            }
        }
    }
}
