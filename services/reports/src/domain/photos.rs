//! A report's photos live in media: attached with the report's scope (media lets only its staff
//! read them), detached again when a write fails, and public or private with the report.

use platform::ApiError;
use serde_json::json;
use uuid::Uuid;

use crate::domain::ReportsError;
use crate::domain::ReportsState;

/// Attaches the reporter's photos to the report through media, with the report's
/// jurisdiction, ward and department (media lets only their staff read the photos); a photo
/// that is not theirs is a 422, a photo attached elsewhere a 409.
pub async fn attach_photos(
    state: &ReportsState,
    owner: Uuid,
    report_id: Uuid,
    media_ids: &[Uuid],
    public: bool,
    (latitude, longitude): (f64, f64),
    (jurisdiction, ward, department): (&str, &str, &str),
) -> Result<(), ApiError> {
    let answer = state
        .media
        .call(
            http::Method::POST,
            "/internal/v1/media/attachments",
            Some(&json!({
                "owner_id": owner,
                "attached_to": format!("report:{report_id}"),
                "media_ids": media_ids,
                "public": public,
                "latitude": latitude,
                "longitude": longitude,
                "scope": { "jurisdiction": jurisdiction, "ward": ward, "department": department },
            })),
        )
        .await?;
    match answer.status.as_u16() {
        200..=299 => Ok(()),
        404 => Err(ReportsError::MediaNotOwned.into()),
        409 => Err(platform::error::SharedError::MediaAlreadyAttached.into()),
        422 => Err(platform::error::SharedError::MediaFailed.into()),
        other => Err(ApiError::internal(anyhow::anyhow!(
            "media answered {other} to an attachment: {}",
            answer.body
        ))),
    }
}

/// Detaches the photos of `media_ids` the report does not list (all of them when it was never
/// written): a failed write, or a concurrent retry with another body, leaves no photo attached
/// to a report that does not show it. Best effort: a failure is logged.
pub async fn undo_attach(state: &ReportsState, report_id: Uuid, media_ids: &[Uuid]) {
    let listed: Vec<Uuid> =
        sqlx::query_scalar!("SELECT media_ids FROM reports WHERE id = $1", report_id)
            .fetch_optional(&state.pool)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
    let strays: Vec<Uuid> = media_ids
        .iter()
        .filter(|id| !listed.contains(id))
        .copied()
        .collect();
    if strays.is_empty() {
        return;
    }
    let undone = state
        .media
        .call(
            http::Method::POST,
            &format!("/internal/v1/media/attachments/report:{report_id}/detach"),
            Some(&json!({ "media_ids": strays })),
        )
        .await;
    if !undone.as_ref().is_ok_and(|a| a.status.is_success()) {
        tracing::warn!(%report_id, "photos of a report that was not written stay attached");
    }
}

/// Makes a report's photos public or private with it (a rejected report leaves the public
/// feed).
pub async fn set_photos_public(
    state: &ReportsState,
    id: Uuid,
    public: bool,
) -> Result<(), ApiError> {
    let answer = state
        .media
        .call(
            http::Method::PUT,
            &format!("/internal/v1/media/attachments/report:{id}/visibility"),
            Some(&json!({ "public": public })),
        )
        .await?;
    if answer.status.is_success() {
        return Ok(());
    }
    Err(ApiError::internal(anyhow::anyhow!(
        "media answered {} to a change of visibility",
        answer.status
    )))
}
