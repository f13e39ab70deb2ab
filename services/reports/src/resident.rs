//! The resident's side of filing: `POST /v1/reports` and the duplicate check the app asks
//! before it. What filing does is `domain::filing`; this turns it into HTTP.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::ApiError;
use platform::auth::Principal;
use platform::extract::{IdempotencyKey, JsonBody, QueryParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::ReportsState;
use crate::domain::filing::{self, Filed, Filer, NewReport, check_position, nearby_open};
use crate::domain::views::Report;

/// Files a report, once per `Idempotency-Key`: a retry with the same key and body gets the
/// first answer again; the same key with another body is refused.
#[utoipa::path(post, path = "/v1/reports", tag = "reports",
    request_body = NewReport,
    params(("Idempotency-Key" = String, Header, description = "Unique per report the resident means to file; retries reuse it")),
    responses(
        (status = 201, body = Filed, description = "Filed (or the first answer to this key, replayed)"),
        (status = 400, body = platform::error::Problem, description = "`idempotency_key_required`, `invalid_body`"),
        (status = 422, body = platform::error::Problem, description = "`invalid_position`, `outside_jurisdiction`, `unknown_category`, `invalid_answers`, `description_too_long`, `media_not_owned`, `idempotency_key_reused`"),
        (status = 429, body = platform::error::Problem, description = "`too_many_reports`, with Retry-After"),
        (status = 503, body = platform::error::Problem, description = "Media could not be reached; nothing was filed")
    ),
    security(("bearer" = [])))]
pub async fn file_report(
    State(state): State<ReportsState>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(request): JsonBody<NewReport>,
) -> Result<Response, ApiError> {
    let filer = Filer {
        account_id: principal.account_id,
        role: "resident",
        max_per_hour: state.max_reports_per_hour,
        submitter: None,
    };
    let filing = filing::file(&state, &filer, &key, &request).await?;
    Ok(created(filing.report_id, filing.body, filing.replayed))
}

fn created(report_id: Uuid, body: Value, replayed: bool) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/reports/{report_id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DuplicateQuery {
    category: String,
    lat: f64,
    lng: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Duplicates {
    pub reports: Vec<Report>,
}

/// Open reports of a category within about 50 m from the last 30 days, asked before filing so
/// the resident can follow one instead.
#[utoipa::path(get, path = "/v1/reports/duplicates", tag = "reports", params(DuplicateQuery),
    responses((status = 200, body = Duplicates),
        (status = 422, body = platform::error::Problem, description = "`invalid_position`")),
    security(("bearer" = [])))]
pub async fn duplicates(
    State(state): State<ReportsState>,
    _principal: Principal,
    QueryParams(query): QueryParams<DuplicateQuery>,
) -> Result<Json<Duplicates>, ApiError> {
    check_position(query.lat, query.lng)?;
    let mut tx = crate::domain::begin_planned_once(&state.pool).await?;
    let reports = nearby_open(&mut tx, &query.category, query.lat, query.lng, None).await?;
    tx.commit().await?;
    Ok(Json(Duplicates { reports }))
}
