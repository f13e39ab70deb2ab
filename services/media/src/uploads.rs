//! Direct uploads: the app asks for a signed URL, sends the photo straight to storage, then says
//! it is complete and the bytes are checked as if they had come through the gateway. With S3
//! the URL is presigned; with the local backend it points at the object endpoint here, signed by
//! us, so the app's flow is the same.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Limited};
use platform::ApiError;
use platform::auth::Principal;
use platform::error::SharedError;
use platform::extract::{JsonBody, QueryParams};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::inspect::{Format, PHOTOS, WITHOUT_HEIC, heic_supported};
use crate::routes::{Media, Source, admit, find, serve, storage_unavailable};
use crate::storage::Access;
use crate::{MediaError, MediaState, budgets};

/// Direct uploads started but not completed, per account: enough for a report's photos.
const MAX_PENDING_UPLOADS: i64 = 20;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUpload {
    /// `image/jpeg`, `image/png` or `image/webp`; the bytes are judged again.
    #[schema(example = "image/jpeg")]
    content_type: String,
    /// Exactly the number of bytes that will be sent.
    #[schema(example = 3_145_728)]
    byte_size: u64,
}

/// The request the app sends to storage.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadRequest {
    /// Always `PUT`.
    method: &'static str,
    url: String,
    /// Headers to send exactly as given; they are part of the signature.
    headers: BTreeMap<String, String>,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Upload {
    /// The media id the photo will have.
    id: Uuid,
    upload: UploadRequest,
}

/// Starts a direct upload: a signed URL to `PUT` the photo to, valid for a short time and for
/// exactly the declared size; then `POST /v1/media/{id}/complete`.
#[utoipa::path(post, path = "/v1/media/uploads", operation_id = "start_upload", tag = "media", security(("bearer" = [])),
    request_body = NewUpload,
    responses(
        (status = 201, body = Upload),
        (status = 400, description = "`invalid_body`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`too_large`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_uploads`: finish or abandon the ones started; `upload_quota_exceeded`: no more today (`Retry-After`)", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`storage_unavailable`", body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn start(
    State(state): State<MediaState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(request): JsonBody<NewUpload>,
) -> Result<(StatusCode, Json<Upload>), ApiError> {
    if request.content_type == Format::Heic.content_type() && !heic_supported() {
        return Err(SharedError::UnsupportedMediaType {
            accepted: WITHOUT_HEIC,
        }
        .into());
    }
    let format = [Format::Jpeg, Format::Png, Format::WebP, Format::Heic]
        .into_iter()
        .find(|format| format.content_type() == request.content_type)
        .ok_or(SharedError::UnsupportedMediaType { accepted: PHOTOS })?;
    if request.byte_size == 0 {
        return Err(SharedError::InvalidBody {
            reason: "`byte_size` must be more than 0.".to_owned(),
        }
        .into());
    }
    if request.byte_size > state.config.max_upload_bytes as u64 {
        return Err(SharedError::TooLarge.into());
    }
    let ttl = Duration::from_secs(state.config.signed_url_ttl_secs);
    let pending = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM media_uploads
           WHERE owner_id = $1 AND url_expires_at > now()"#,
        principal.account_id
    )
    .fetch_one(&state.pool)
    .await?;
    if pending >= MAX_PENDING_UPLOADS {
        return Err(ApiError::from(MediaError::TooManyUploads).with_retry_after(ttl));
    }
    budgets::count_upload(&state, principal.account_id, request.byte_size).await?;

    let id = Uuid::now_v7();
    let key = format!("uploads/{id}");
    let access = Access::Put {
        content_type: format.content_type(),
        content_length: request.byte_size,
    };
    let signed = state
        .storage
        .sign(&key, access, ttl)
        .await
        .map_err(storage_unavailable)?;
    sqlx::query!(
        r#"INSERT INTO media_uploads (id, owner_id, content_type, byte_size, object_key, url_expires_at)
           VALUES ($1, $2, $3, $4, $5, $6)"#,
        id,
        principal.account_id,
        format.content_type(),
        request.byte_size as i64,
        key,
        signed.expires_at
    )
    .execute(&state.pool)
    .await?;
    let upload = UploadRequest {
        method: "PUT",
        url: crate::routes::absolute(&state, &headers, signed.url),
        headers: signed.headers.into_iter().collect(),
        expires_at: signed.expires_at,
    };
    Ok((StatusCode::CREATED, Json(Upload { id, upload })))
}

/// Checks a direct upload once its bytes are in storage and makes it a photo. Repeating the
/// call gives the same photo; the same bytes uploaded before give the earlier photo.
#[utoipa::path(post, path = "/v1/media/{id}/complete", tag = "media", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 201, description = "Checked and stored; derivatives are being made", body = Media),
        (status = 200, description = "Completed before, or the same photo was uploaded before (its id may differ)", body = Media),
        (status = 404, description = "No such upload of yours", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`upload_missing`: nothing was uploaded yet", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`too_large`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`too_many_pixels` or `corrupt_image`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`storage_unavailable`", body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all, fields(owner = %principal.account_id, media = %id))]
pub async fn complete(
    State(state): State<MediaState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<Media>), ApiError> {
    if let Some(done) = find(&state, principal.account_id, Some(id), None).await? {
        return Ok((StatusCode::OK, Json(done)));
    }
    let _under_way = state.under_way.begin(principal.account_id)?;
    let upload = sqlx::query!(
        "SELECT object_key FROM media_uploads WHERE id = $1 AND owner_id = $2",
        id,
        principal.account_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(platform::error::SharedError::MediaNotFound)?;
    let limit = state.config.max_upload_bytes;
    let size = state
        .storage
        .size(&upload.object_key)
        .await
        .map_err(storage_unavailable)?
        .ok_or(MediaError::UploadMissing)?;
    if size > limit as u64 {
        return Err(SharedError::TooLarge.into());
    }
    let bytes = state
        .storage
        .read(&upload.object_key, limit as u64)
        .await
        .map_err(storage_unavailable)?;
    let (status, media) = admit(&state, principal.account_id, id, bytes, Source::Direct).await?;
    Ok((status, Json(media)))
}

/// What the local backend's signed URLs carry.
#[derive(Debug, Deserialize)]
pub struct Signature {
    expires: i64,
    #[serde(rename = "type")]
    content_type: String,
    signature: String,
}

/// The local backend's object endpoint: a signed URL's `PUT`, like S3's presigned upload.
pub async fn put_object(
    State(state): State<MediaState>,
    Path(key): Path<String>,
    QueryParams(signature): QueryParams<Signature>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let signer = state
        .local_urls
        .as_ref()
        .ok_or(platform::error::SharedError::MediaNotFound)?;
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let content_type = header(header::CONTENT_TYPE).unwrap_or_default();
    let content_length: u64 = header(header::CONTENT_LENGTH)
        .and_then(|v| v.parse().ok())
        .ok_or(MediaError::InvalidSignature)?;
    let access = Access::Put {
        content_type,
        content_length,
    };
    if content_type != signature.content_type
        || !signer.verify(&key, access, signature.expires, &signature.signature)
    {
        return Err(MediaError::InvalidSignature.into());
    }
    // The upload's owner sends few at once, as through the gateway; an upload completed or
    // expired takes no more bytes.
    let upload_id = key
        .strip_prefix("uploads/")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or(platform::error::SharedError::MediaNotFound)?;
    let owner = sqlx::query_scalar!(
        "SELECT owner_id FROM media_uploads WHERE id = $1 AND object_key = $2",
        upload_id,
        key
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(platform::error::SharedError::MediaNotFound)?;
    let _under_way = state.under_way.begin(owner)?;
    let limit = usize::try_from(content_length).map_err(ApiError::internal)?;
    let bytes = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|_| SharedError::TooLarge)?
        .to_bytes();
    if bytes.len() as u64 != content_length {
        return Err(MediaError::IncompleteBody.into());
    }
    state
        .storage
        .put(&key, bytes, content_type)
        .await
        .map_err(storage_unavailable)?;
    Ok(StatusCode::OK.into_response())
}

/// The local backend's object endpoint: a signed URL's `GET`, with `Range`.
pub async fn get_object(
    State(state): State<MediaState>,
    Path(key): Path<String>,
    QueryParams(signature): QueryParams<Signature>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let signer = state
        .local_urls
        .as_ref()
        .ok_or(platform::error::SharedError::MediaNotFound)?;
    let access = Access::Get {
        content_type: &signature.content_type,
    };
    if !signer.verify(&key, access, signature.expires, &signature.signature) {
        return Err(MediaError::InvalidSignature.into());
    }
    serve(
        &state,
        &key,
        &signature.content_type,
        &headers,
        "private, max-age=900",
    )
    .await
}
