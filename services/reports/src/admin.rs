//! Jurisdiction admins load their city's data: departments, categories and routing rules as
//! one JSON document, ward boundaries as GeoJSON. Platform admins may create jurisdictions.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use platform::ApiError;
use platform::auth::Principal;
use platform::error::SharedError;
use platform::extract::JsonBody;

use crate::domain::ReportsError;
use crate::domain::ReportsState;
use crate::domain::jurisdiction::{self, JurisdictionFile};

/// Creates or replaces a jurisdiction's departments, categories (with their questions) and
/// routing rules. Only platform admins create new jurisdictions.
#[utoipa::path(put, path = "/v1/admin/jurisdictions/{id}", tag = "reports",
    params(("id" = String, Path)), request_body = JurisdictionFile,
    responses((status = 204), (status = 404, body = platform::error::Problem),
        (status = 422, body = platform::error::Problem, description = "`invalid_jurisdiction_data`")),
    security(("bearer" = [])))]
pub async fn put_jurisdiction(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(file): JsonBody<JurisdictionFile>,
) -> Result<StatusCode, ApiError> {
    crate::domain::access::may_administer(&principal, &id)?;
    if file.id != id {
        return Err(ReportsError::InvalidJurisdictionData {
            problem_vi: "Mã địa bàn trong nội dung khác với đường dẫn.".into(),
            problem_en: "The jurisdiction id in the body differs from the path.".into(),
        }
        .into());
    }
    jurisdiction::import(&state.pool, &file, None).await?;
    tracing::info!(jurisdiction = %id, by = %principal.account_id, "jurisdiction data imported");
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a jurisdiction's wards from a GeoJSON FeatureCollection of Polygons and
/// MultiPolygons (holes allowed; positions may carry a height, which is dropped; wards may share
/// borders but not overlap each other or another jurisdiction's).
#[utoipa::path(put, path = "/v1/admin/jurisdictions/{id}/wards", tag = "reports",
    params(("id" = String, Path)),
    request_body(content = String, content_type = "application/geo+json"),
    responses((status = 204), (status = 404, body = platform::error::Problem),
        (status = 409, body = platform::error::Problem, description = "`ward_in_use`"),
        (status = 422, body = platform::error::Problem, description = "`invalid_jurisdiction_data`, `overlaps_jurisdiction`")),
    security(("bearer" = [])))]
pub async fn put_wards(
    State(state): State<ReportsState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    crate::domain::access::may_administer(&principal, &id)?;
    let text = std::str::from_utf8(&body).map_err(|_| SharedError::InvalidBody {
        reason: "not UTF-8".into(),
    })?;
    // Checking overlaps is CPU work: off the async threads.
    let text = text.to_owned();
    let wards = tokio::task::spawn_blocking(move || jurisdiction::parse_wards(&text))
        .await
        .map_err(ApiError::internal)??;
    jurisdiction::import_wards(&state.pool, &id, &wards).await?;
    tracing::info!(jurisdiction = %id, wards = wards.len(), by = %principal.account_id, "wards imported");
    Ok(StatusCode::NO_CONTENT)
}
