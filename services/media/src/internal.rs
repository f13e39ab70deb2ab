//! Calls other services make (never routed by the gateway, guarded by the service token): a
//! report attaches its photos, saying where it belongs (which staff may read them), and makes
//! them public or private with itself; an erased account's photos are deleted (also on
//! identity's `account.erased` event).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use platform::ApiError;
use platform::extract::JsonBody;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::routes::h3_cell;
use crate::{MediaError, MediaState};

/// What a photo is attached to: `<kind>:<id>`, like `report:0193…`.
fn valid_owner_ref(attached_to: &str) -> bool {
    attached_to.split_once(':').is_some_and(|(kind, id)| {
        !kind.is_empty()
            && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            && !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attach {
    /// Whose photos these must be: the account filing the report.
    owner_id: Uuid,
    attached_to: String,
    media_ids: Vec<Uuid>,
    /// Whether what they are attached to is public.
    #[serde(default)]
    public: bool,
    /// The position of what they are attached to, for photos without an EXIF position.
    latitude: Option<f64>,
    longitude: Option<f64>,
    /// Where what they are attached to belongs: staff read the photos only there.
    scope: AttachmentScope,
}

/// Where a thing photos are attached to belongs: the jurisdiction, ward and department whose
/// staff work on it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentScope {
    jurisdiction: String,
    ward: String,
    department: String,
}

#[derive(Debug, Serialize)]
pub struct Attached {
    attached_to: String,
    media_ids: Vec<Uuid>,
}

/// Most photos one thing may have.
const MAX_ATTACHED: usize = 20;

/// Attaches the owner's photos to a thing, all or none: a photo of someone else, or one already
/// attached to something else, fails the call (404 and 409). Attaching again is harmless.
pub async fn attach(
    State(state): State<MediaState>,
    JsonBody(request): JsonBody<Attach>,
) -> Result<Json<Attached>, ApiError> {
    if !valid_owner_ref(&request.attached_to) {
        return Err(MediaError::InvalidAttachment.into());
    }
    let mut ids = request.media_ids.clone();
    ids.sort();
    ids.dedup();
    if ids.len() > MAX_ATTACHED {
        return Err(platform::error::SharedError::TooManyMedia { max: MAX_ATTACHED }.into());
    }
    let fallback_cell = request
        .latitude
        .zip(request.longitude)
        .and_then(|(lat, lng)| h3_cell(lat, lng));
    let (latitude, longitude) = match fallback_cell {
        Some(_) => (request.latitude, request.longitude),
        None => (None, None),
    };

    let mut tx = state.pool.begin().await?;
    let rows = sqlx::query!(
        r#"SELECT id, owner_id, attached_to, status FROM media WHERE id = ANY($1) FOR UPDATE"#,
        &ids
    )
    .fetch_all(&mut *tx)
    .await?;
    if rows.len() != ids.len() || rows.iter().any(|row| row.owner_id != request.owner_id) {
        return Err(platform::error::SharedError::MediaNotFound.into());
    }
    if rows.iter().any(|row| {
        row.attached_to
            .as_deref()
            .is_some_and(|other| other != request.attached_to)
    }) {
        return Err(platform::error::SharedError::MediaAlreadyAttached.into());
    }
    if rows.iter().any(|row| row.status == "failed") {
        return Err(platform::error::SharedError::MediaFailed.into());
    }
    let scope = &request.scope;
    sqlx::query!(
        r#"UPDATE media SET attached_to = $2, public = $3,
                 latitude = COALESCE(latitude, $4), longitude = COALESCE(longitude, $5),
                 h3_cell = COALESCE(h3_cell, $6), jurisdiction_id = $7, ward_id = $8,
                 department_id = $9, updated_at = now()
           WHERE id = ANY($1)"#,
        &ids,
        request.attached_to,
        request.public,
        latitude,
        longitude,
        fallback_cell,
        scope.jurisdiction,
        scope.ward,
        scope.department
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(Attached {
        attached_to: request.attached_to,
        media_ids: ids,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Visibility {
    public: bool,
}

/// Makes every photo of a thing public or private with it (a report published or hidden).
pub async fn set_visibility(
    State(state): State<MediaState>,
    Path(attached_to): Path<String>,
    JsonBody(request): JsonBody<Visibility>,
) -> Result<StatusCode, ApiError> {
    if !valid_owner_ref(&attached_to) {
        return Err(MediaError::InvalidAttachment.into());
    }
    sqlx::query!(
        "UPDATE media SET public = $2, updated_at = now() WHERE attached_to = $1 AND public <> $2",
        attached_to,
        request.public
    )
    .execute(&state.pool)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Moves every photo of a thing with it (a report routed to another ward or department): from
/// now on the staff there read them, and those of the old place no longer do.
pub async fn set_scope(
    State(state): State<MediaState>,
    Path(attached_to): Path<String>,
    JsonBody(request): JsonBody<AttachmentScope>,
) -> Result<StatusCode, ApiError> {
    if !valid_owner_ref(&attached_to) {
        return Err(MediaError::InvalidAttachment.into());
    }
    sqlx::query!(
        r#"UPDATE media SET jurisdiction_id = $2, ward_id = $3, department_id = $4, updated_at = now()
           WHERE attached_to = $1"#,
        attached_to,
        request.jurisdiction,
        request.ward,
        request.department
    )
    .execute(&state.pool)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detach {
    media_ids: Vec<Uuid>,
}

/// Undoes an attachment (the caller's own write failed after it attached): the photos are
/// private and attached to nothing again, and expire as unattached uploads do unless attached
/// anew. Detaching what is not attached there is harmless.
pub async fn detach(
    State(state): State<MediaState>,
    Path(attached_to): Path<String>,
    JsonBody(request): JsonBody<Detach>,
) -> Result<StatusCode, ApiError> {
    if !valid_owner_ref(&attached_to) || request.media_ids.len() > MAX_ATTACHED {
        return Err(MediaError::InvalidAttachment.into());
    }
    sqlx::query!(
        r#"UPDATE media SET attached_to = NULL, public = false, jurisdiction_id = NULL,
                 ward_id = NULL, department_id = NULL, updated_at = now()
           WHERE attached_to = $1 AND id = ANY($2)"#,
        attached_to,
        &request.media_ids
    )
    .execute(&state.pool)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redact {
    media_id: Uuid,
}

/// Replaces a photo's public derivatives by a pixelated version (a moderator's redaction); the
/// original stays for staff. Redacting again changes nothing.
pub async fn redact(
    State(state): State<MediaState>,
    Path(attached_to): Path<String>,
    JsonBody(request): JsonBody<Redact>,
) -> Result<StatusCode, ApiError> {
    if !valid_owner_ref(&attached_to) {
        return Err(MediaError::InvalidAttachment.into());
    }
    let mut tx = state.pool.begin().await?;
    let media = sqlx::query!(
        r#"SELECT status, display_key, thumbnail_key, redacted_at FROM media
           WHERE id = $1 AND attached_to = $2 FOR UPDATE"#,
        request.media_id,
        attached_to
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(platform::error::SharedError::MediaNotFound)?;
    if media.redacted_at.is_some() {
        return Ok(StatusCode::NO_CONTENT);
    }
    let (Some(display_key), Some(thumbnail_key)) = (media.display_key, media.thumbnail_key) else {
        return Err(ApiError::from(platform::error::SharedError::MediaNotReady)
            .with_retry_after(std::time::Duration::from_secs(2)));
    };
    let display = state
        .storage
        .read(&display_key, state.config.max_upload_bytes as u64)
        .await
        .map_err(ApiError::internal)?;
    let redacted = tokio::task::spawn_blocking(move || crate::derive::redact(&display))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    for (key, bytes) in [
        (&display_key, redacted.display),
        (&thumbnail_key, redacted.thumbnail),
    ] {
        state
            .storage
            .put(key, bytes::Bytes::from(bytes), crate::derive::CONTENT_TYPE)
            .await
            .map_err(ApiError::internal)?;
    }
    sqlx::query!(
        "UPDATE media SET redacted_at = now(), updated_at = now() WHERE id = $1",
        request.media_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
pub struct Erased {
    deleted: i64,
}

/// Deletes everything of an erased account: its photos, its unfinished uploads and its upload
/// counts. Records go now, their objects right after; calling it again finds nothing more to do.
pub async fn erase_owner(
    State(state): State<MediaState>,
    Path(owner_id): Path<Uuid>,
) -> Result<Json<Erased>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let deleted = erase_owner_in(&mut tx, owner_id).await?;
    tx.commit().await?;
    state.deletions.notify_one();
    Ok(Json(Erased { deleted }))
}

/// The photos, unfinished uploads and upload counts of `owner_id` deleted, their objects queued
/// for deletion; how many photos there were.
pub(crate) async fn erase_owner_in(
    tx: &mut sqlx::PgConnection,
    owner_id: Uuid,
) -> Result<i64, sqlx::Error> {
    let deleted = sqlx::query_scalar!(
        r#"WITH gone AS (
               DELETE FROM media WHERE owner_id = $1
               RETURNING original_key, display_key, thumbnail_key),
           queued AS (
               INSERT INTO media_object_deletions (object_key)
               SELECT key FROM gone, unnest(ARRAY[original_key, display_key, thumbnail_key]) AS key
               WHERE key IS NOT NULL
               ON CONFLICT DO NOTHING)
           SELECT count(*) AS "count!" FROM gone"#,
        owner_id
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        r#"WITH gone AS (DELETE FROM media_uploads WHERE owner_id = $1 RETURNING object_key, url_expires_at)
           INSERT INTO media_object_deletions (object_key, run_after)
           SELECT object_key, url_expires_at FROM gone ON CONFLICT DO NOTHING"#,
        owner_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM media_daily_uploads WHERE owner_id = $1",
        owner_id
    )
    .execute(&mut *tx)
    .await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::valid_owner_ref;

    #[test]
    fn attachment_targets_are_kind_and_id() {
        assert!(valid_owner_ref(
            "report:0193a1b2-0000-7000-8000-000000000000"
        ));
        assert!(valid_owner_ref("report_update:42"));
        for bad in ["report", ":1", "report:", "Report:1", "report:1/2", "a:b:c"] {
            assert!(!valid_owner_ref(bad), "{bad}");
        }
    }
}
