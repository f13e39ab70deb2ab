//! Media's HTTP surface for residents and staff: upload through the gateway, metadata, signed
//! URLs, photos near a point, and the bytes of each variant with `Range`.

use std::time::Duration;

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::error::SharedError;
use platform::extract::QueryParams;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::access::{AttachedTo, StaffReach};
use crate::inspect::{self, Inspected};
use crate::storage::Access;
use crate::{MediaError, MediaState, budgets, derive};

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = media::Position)]
pub struct Position {
    latitude: f64,
    longitude: f64,
}

/// A photo as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Media {
    id: Uuid,
    /// `processing` until the derivatives exist, then `ready` (or `failed`).
    status: String,
    content_type: String,
    byte_size: i64,
    width: i32,
    height: i32,
    /// From EXIF.
    #[serde(skip_serializing_if = "Option::is_none")]
    taken_at: Option<DateTime<Utc>>,
    /// From EXIF GPS.
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<Position>,
    /// H3 cell (resolution 9) of the position, hexadecimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    h3_cell: Option<String>,
    /// Whether it belongs to something (a report); unattached uploads are deleted after a day.
    attached: bool,
    /// Readable by anyone (display size and thumbnail only), because what it belongs to is.
    public: bool,
    created_at: DateTime<Utc>,
}

pub(crate) struct MediaRow {
    id: Uuid,
    status: String,
    content_type: String,
    byte_size: i64,
    width: i32,
    height: i32,
    taken_at: Option<DateTime<Utc>>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    h3_cell: Option<i64>,
    attached: bool,
    public: bool,
    created_at: DateTime<Utc>,
}

impl From<MediaRow> for Media {
    fn from(row: MediaRow) -> Self {
        Media {
            id: row.id,
            status: row.status,
            content_type: row.content_type,
            byte_size: row.byte_size,
            width: row.width,
            height: row.height,
            taken_at: row.taken_at,
            position: row
                .latitude
                .zip(row.longitude)
                .map(|(latitude, longitude)| Position {
                    latitude,
                    longitude,
                }),
            h3_cell: row.h3_cell.map(|cell| format!("{:x}", cell as u64)),
            attached: row.attached,
            public: row.public,
            created_at: row.created_at,
        }
    }
}

pub(crate) fn storage_unavailable(error: anyhow::Error) -> ApiError {
    tracing::error!(error = %format!("{error:#}"), "media storage failed");
    ApiError::from(MediaError::StorageUnavailable).with_retry_after(Duration::from_secs(10))
}

/// Reads the `file` field of the form, refusing it as soon as it passes the limit.
async fn read_file(multipart: &mut Multipart, limit: usize) -> Result<Bytes, ApiError> {
    let invalid = |reason: String| SharedError::InvalidBody { reason };
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| invalid(e.body_text()))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let mut bytes = BytesMut::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                SharedError::TooLarge
            } else {
                invalid(e.body_text())
            }
        })? {
            if bytes.len() + chunk.len() > limit {
                return Err(SharedError::TooLarge.into());
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(bytes.freeze());
    }
    Err(invalid("the form has no `file` field".to_owned()).into())
}

/// Uploads a photo (multipart form, field `file`); JPEG, PNG or WebP, judged from the bytes.
#[utoipa::path(post, path = "/v1/media", tag = "media", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "Field `file`: the photo"),
    responses(
        (status = 201, description = "Stored; derivatives are being made", body = Media),
        (status = 200, description = "The same photo was uploaded before by this account", body = Media),
        (status = 413, description = "`too_large`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`too_many_pixels`, `too_large_decoded` or `corrupt_image`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_uploads` (this account's uploads under way) or `upload_quota_exceeded` (for today), with `Retry-After`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`storage_unavailable`", body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all, fields(owner = %principal.account_id))]
pub async fn upload(
    State(state): State<MediaState>,
    principal: Principal,
    mut multipart: Multipart,
) -> Result<(StatusCode, Json<Media>), ApiError> {
    let _under_way = state.under_way.begin(principal.account_id)?;
    let bytes = read_file(&mut multipart, state.config.max_upload_bytes).await?;
    budgets::count_upload(&state, principal.account_id, bytes.len() as u64).await?;
    let (status, media) = admit(
        &state,
        principal.account_id,
        Uuid::now_v7(),
        bytes,
        Source::Gateway,
    )
    .await?;
    Ok((status, Json(media)))
}

/// How the bytes of a new photo arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// In the request.
    Gateway,
    /// Uploaded by the client through a signed URL (a `media_uploads` row of the same id).
    /// What the client sent stays where it was put, and is deleted once the URL has expired
    /// (the client could write it again until then): the photo keeps the bytes that passed.
    Direct,
}

pub(crate) fn original_key(id: Uuid) -> String {
    format!("originals/{id}")
}

/// Checks the bytes of a new photo and records it as media `id` with its original at
/// `originals/<id>`; the same bytes uploaded before by the same owner give that media (200).
/// The bytes have all arrived: only now is a slot taken, then the memory to decode them.
pub(crate) async fn admit(
    state: &MediaState,
    owner: Uuid,
    id: Uuid,
    bytes: Bytes,
    source: Source,
) -> Result<(StatusCode, Media), ApiError> {
    let limits = inspect::Limits::of(&state.config);
    let header = inspect::header(&bytes, &limits)?;
    let _slot = state.uploads.acquire().await.map_err(ApiError::internal)?;
    let memory = state
        .decode_memory
        .reserve(header.decoded_bytes)
        .await
        .map_err(ApiError::internal)?;
    let checked = bytes.clone();
    let inspected: Inspected =
        tokio::task::spawn_blocking(move || inspect::inspect(&checked, &limits))
            .await
            .map_err(ApiError::internal)??;
    drop(memory);
    let sha256 = Sha256::digest(&bytes).to_vec();
    let original_key = original_key(id);

    if let Some(existing) = find(state, owner, None, Some(&sha256)).await? {
        if source == Source::Direct {
            let mut tx = state.pool.begin().await?;
            forget_upload(&mut tx, id).await?;
            tx.commit().await?;
        }
        return Ok((StatusCode::OK, existing));
    }
    // The bytes first: a record never points at an object that is not there. Until the record
    // exists the object is queued for deletion, so a fault in between leaves no orphan.
    sqlx::query!(
        r#"INSERT INTO media_object_deletions (object_key, run_after) VALUES ($1, now() + interval '1 hour')
           ON CONFLICT (object_key) DO UPDATE SET run_after = EXCLUDED.run_after"#,
        original_key
    )
    .execute(&state.pool)
    .await?;
    state
        .storage
        .put(
            &original_key,
            bytes.clone(),
            inspected.format.content_type(),
        )
        .await
        .map_err(storage_unavailable)?;

    let (latitude, longitude) = inspected.position.unzip();
    let h3_cell = inspected.position.and_then(|(lat, lng)| h3_cell(lat, lng));
    let mut tx = state.pool.begin().await?;
    let inserted = sqlx::query!(
        r#"INSERT INTO media (id, owner_id, status, content_type, byte_size, width, height, orientation,
                             sha256, taken_at, latitude, longitude, h3_cell, original_key)
           VALUES ($1, $2, 'processing', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (owner_id, sha256) DO NOTHING"#,
        id,
        owner,
        inspected.format.content_type(),
        bytes.len() as i64,
        inspected.width as i32,
        inspected.height as i32,
        inspected.orientation as i16,
        sha256,
        inspected.taken_at,
        latitude,
        longitude,
        h3_cell,
        original_key
    )
    .execute(&mut *tx)
    .await?;
    let status = if inserted.rows_affected() == 0 {
        // The same photo, uploaded twice at once: the first stays, these bytes go now.
        sqlx::query!(
            "UPDATE media_object_deletions SET run_after = now() WHERE object_key = $1",
            original_key
        )
        .execute(&mut *tx)
        .await?;
        StatusCode::OK
    } else {
        sqlx::query!(
            "DELETE FROM media_object_deletions WHERE object_key = $1",
            original_key
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO media_jobs (media_id, kind) VALUES ($1, 'derivatives')",
            id
        )
        .execute(&mut *tx)
        .await?;
        StatusCode::CREATED
    };
    if source == Source::Direct {
        forget_upload(&mut tx, id).await?;
    }
    tx.commit().await?;
    state.work.notify_one();
    state.deletions.notify_one();
    let media = find(state, owner, None, Some(&sha256))
        .await?
        .ok_or(platform::error::SharedError::MediaNotFound)?;
    Ok((status, media))
}

/// Ends a direct upload: its row goes, and its object once the URL can no longer write it.
async fn forget_upload(tx: &mut sqlx::PgConnection, id: Uuid) -> Result<(), ApiError> {
    sqlx::query!(
        r#"WITH gone AS (DELETE FROM media_uploads WHERE id = $1 RETURNING object_key, url_expires_at)
           INSERT INTO media_object_deletions (object_key, run_after)
           SELECT object_key, url_expires_at FROM gone ON CONFLICT DO NOTHING"#,
        id
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// The resolution-9 H3 cell of a position, as stored.
pub(crate) fn h3_cell(latitude: f64, longitude: f64) -> Option<i64> {
    let cell = h3o::LatLng::new(latitude, longitude)
        .ok()?
        .to_cell(h3o::Resolution::Nine);
    Some(u64::from(cell) as i64)
}

/// The owner's media by id or by content hash.
pub(crate) async fn find(
    state: &MediaState,
    owner: Uuid,
    id: Option<Uuid>,
    sha256: Option<&[u8]>,
) -> Result<Option<Media>, ApiError> {
    let row = sqlx::query_as!(
        MediaRow,
        r#"SELECT id, status, content_type, byte_size, width, height, taken_at, latitude, longitude,
                  h3_cell, attached_to IS NOT NULL AS "attached!", public, created_at
           FROM media
           WHERE owner_id = $1 AND ($2::uuid IS NULL OR id = $2) AND ($3::bytea IS NULL OR sha256 = $3)"#,
        owner,
        id,
        sha256
    )
    .fetch_optional(&state.pool)
    .await?;
    Ok(row.map(Media::from))
}

/// A photo's details; only its owner sees it.
#[utoipa::path(get, path = "/v1/media/{id}", tag = "media", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Media), (status = 404, description = "No such photo of yours", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn metadata(
    State(state): State<MediaState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Media>, ApiError> {
    Ok(Json(
        find(&state, principal.account_id, Some(id), None)
            .await?
            .ok_or(platform::error::SharedError::MediaNotFound)?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearQuery {
    #[param(example = 16.4637)]
    lat: f64,
    #[param(example = 107.5909)]
    lng: f64,
    /// Metres, 1 to 2000; 200 when omitted.
    radius_m: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyMedia {
    id: Uuid,
    position: Position,
    #[serde(skip_serializing_if = "Option::is_none")]
    taken_at: Option<DateTime<Utc>>,
    distance_m: f64,
}

/// Average edge of an H3 resolution-9 cell, in metres.
const RES9_EDGE_M: f64 = 174.0;
const MAX_NEARBY: i64 = 200;

/// Photos taken near a point, nearest first, among those attached to what the caller works on
/// (staff only): the H3 cells around the point narrow the search, the exact distance decides.
#[utoipa::path(get, path = "/v1/media/near", operation_id = "near_media", tag = "media", security(("bearer" = [])), params(NearQuery),
    responses(
        (status = 200, body = [NearbyMedia]),
        (status = 403, description = "`staff_only`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_position`", body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn near(
    State(state): State<MediaState>,
    principal: Principal,
    QueryParams(query): QueryParams<NearQuery>,
) -> Result<Json<Vec<NearbyMedia>>, ApiError> {
    let Some(reach) = StaffReach::of(&principal) else {
        return Err(platform::error::SharedError::StaffOnly.into());
    };
    let radius = query.radius_m.unwrap_or(200.0);
    let on_earth = (-90.0..=90.0).contains(&query.lat) && (-180.0..=180.0).contains(&query.lng);
    if !on_earth || !(1.0..=2000.0).contains(&radius) {
        return Err(platform::error::SharedError::InvalidPosition.into());
    }
    let center = h3o::LatLng::new(query.lat, query.lng)
        .map_err(|_| platform::error::SharedError::InvalidPosition)?;
    // Enough rings of cells to cover the circle, whatever the point's place in its cell.
    let rings = (radius / (RES9_EDGE_M * 1.5)).ceil() as u32 + 1;
    let cells: Vec<i64> = center
        .to_cell(h3o::Resolution::Nine)
        .grid_disk::<Vec<_>>(rings)
        .into_iter()
        .map(|cell| u64::from(cell) as i64)
        .collect();
    let rows = sqlx::query!(
        r#"SELECT id, latitude AS "latitude!", longitude AS "longitude!", taken_at
           FROM media WHERE h3_cell = ANY($1) AND status = 'ready' AND attached_to IS NOT NULL
             AND ($2 OR (jurisdiction_id = $3
                         AND ($4 OR ward_id = ANY($5) OR department_id = ANY($6))))
           ORDER BY created_at DESC LIMIT 5000"#,
        &cells,
        reach.all,
        reach.jurisdiction,
        reach.whole,
        &reach.wards,
        &reach.departments
    )
    .fetch_all(&state.pool)
    .await?;
    let mut nearby: Vec<NearbyMedia> = rows
        .into_iter()
        .filter_map(|row| {
            let at = h3o::LatLng::new(row.latitude, row.longitude).ok()?;
            let distance_m = center.distance_m(at);
            (distance_m <= radius).then_some(NearbyMedia {
                id: row.id,
                position: Position {
                    latitude: row.latitude,
                    longitude: row.longitude,
                },
                taken_at: row.taken_at,
                distance_m: (distance_m * 10.0).round() / 10.0,
            })
        })
        .collect();
    nearby.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    nearby.truncate(MAX_NEARBY as usize);
    Ok(Json(nearby))
}

/// A single byte range, `bytes=a-b`, `bytes=a-` or `bytes=-n` (RFC 9110 §14.1.2).
fn parse_range(header: &str, size: u64) -> Option<std::ops::Range<u64>> {
    let spec = header.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let range = if start.is_empty() {
        let suffix: u64 = end.parse().ok()?;
        size.saturating_sub(suffix)..size
    } else {
        let start: u64 = start.parse().ok()?;
        let end = if end.is_empty() {
            size.saturating_sub(1)
        } else {
            end.parse::<u64>().ok()?.min(size.saturating_sub(1))
        };
        start..end + 1
    };
    (range.start < range.end && range.end <= size).then_some(range)
}

/// The variants of a photo: two derivatives anyone allowed to see the photo may read, and the
/// original, for the staff who work on what it is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Display,
    Thumbnail,
    Original,
}

impl Variant {
    fn parse(name: &str) -> Result<Variant, ApiError> {
        match name {
            "display" => Ok(Variant::Display),
            "thumbnail" => Ok(Variant::Thumbnail),
            "original" => Ok(Variant::Original),
            _ => Err(ApiError::route_not_found()),
        }
    }
}

/// Where a variant is stored and its type, for a reader who may see it.
struct Readable {
    key: String,
    content_type: String,
    /// Readable without a token.
    public: bool,
}

/// What reading a photo's variants needs to know, read once per request.
struct Stored {
    owner_id: Uuid,
    public: bool,
    attached: bool,
    jurisdiction_id: Option<String>,
    ward_id: Option<String>,
    department_id: Option<String>,
    content_type: String,
    original_key: Option<String>,
    display_key: Option<String>,
    thumbnail_key: Option<String>,
}

async fn stored(state: &MediaState, id: Uuid) -> Result<Stored, ApiError> {
    sqlx::query_as!(
        Stored,
        r#"SELECT owner_id, public, attached_to IS NOT NULL AS "attached!", jurisdiction_id,
                  ward_id, department_id, content_type, original_key, display_key, thumbnail_key
           FROM media WHERE id = $1"#,
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| platform::error::SharedError::MediaNotFound.into())
}

impl Stored {
    /// The variant, for a reader who may see it; 404 for anyone else.
    fn readable(&self, variant: Variant, reader: Option<&Principal>) -> Result<Readable, ApiError> {
        let attached_to = AttachedTo {
            attached: self.attached,
            jurisdiction: self.jurisdiction_id.as_deref(),
            ward: self.ward_id.as_deref(),
            department: self.department_id.as_deref(),
        };
        let staff = reader
            .and_then(StaffReach::of)
            .is_some_and(|reach| reach.covers(&attached_to));
        let owner = reader.is_some_and(|reader| reader.account_id == self.owner_id);
        let allowed = match variant {
            // Originals may hold what the derivatives leave out (EXIF position, faces at full size).
            Variant::Original => staff,
            Variant::Display | Variant::Thumbnail => staff || owner || self.public,
        };
        if !allowed {
            return Err(platform::error::SharedError::MediaNotFound.into());
        }
        let (key, content_type) = match variant {
            Variant::Original => (
                self.original_key
                    .clone()
                    .ok_or(MediaError::OriginalNotKept)?,
                self.content_type.clone(),
            ),
            Variant::Display => (
                self.display_key
                    .clone()
                    .ok_or(platform::error::SharedError::MediaNotReady)?,
                derive::CONTENT_TYPE.to_owned(),
            ),
            Variant::Thumbnail => (
                self.thumbnail_key
                    .clone()
                    .ok_or(platform::error::SharedError::MediaNotReady)?,
                derive::CONTENT_TYPE.to_owned(),
            ),
        };
        Ok(Readable {
            key,
            content_type,
            public: self.public && variant != Variant::Original,
        })
    }
}

/// The bytes of a variant: `display` (1280 px) or `thumbnail` (256 px), both without
/// metadata, for the owner, the staff who work on what the photo is attached to, or anyone once
/// the photo is public; the `original` for those staff. `Range` is honoured.
#[utoipa::path(get, path = "/v1/media/{id}/{variant}", tag = "media", security((), ("bearer" = [])),
    params(("id" = Uuid, Path), ("variant" = String, Path, description = "`display`, `thumbnail` or `original` (staff)")),
    responses(
        (status = 200, description = "The image", content_type = "image/jpeg"),
        (status = 206, description = "The requested range"),
        (status = 404, description = "`media_not_found`: no such photo you may see; `original_not_kept`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`media_not_ready`: still being processed", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 416, description = "Unsatisfiable range", body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn content(
    State(state): State<MediaState>,
    principal: Option<Principal>,
    Path((id, variant)): Path<(Uuid, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let variant = Variant::parse(&variant)?;
    let readable = stored(&state, id)
        .await?
        .readable(variant, principal.as_ref())?;
    // Public photos may sit in shared caches, briefly: moderation can hide them again.
    let cache = if readable.public {
        "public, max-age=300"
    } else {
        "private, max-age=3600"
    };
    serve(
        &state,
        &readable.key,
        &readable.content_type,
        &headers,
        cache,
    )
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignedUrls {
    /// When the URLs stop working.
    expires_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thumbnail: Option<String>,
    /// For staff, while the original is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    original: Option<String>,
}

/// Short-lived URLs to fetch a photo's variants straight from storage, for whoever may read
/// them (the app caches images by these).
#[utoipa::path(get, path = "/v1/media/{id}/urls", tag = "media", security((), ("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = SignedUrls),
        (status = 404, description = "`media_not_found`: no such photo you may see", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`media_not_ready`: still being processed", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`storage_unavailable`", body = platform::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn urls(
    State(state): State<MediaState>,
    principal: Option<Principal>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Json<SignedUrls>, ApiError> {
    let ttl = Duration::from_secs(state.config.signed_url_ttl_secs);
    let mut urls = SignedUrls {
        expires_at: Utc::now() + chrono::Duration::seconds(ttl.as_secs() as i64),
        display: None,
        thumbnail: None,
        original: None,
    };
    let stored = stored(&state, id).await?;
    for variant in [Variant::Display, Variant::Thumbnail, Variant::Original] {
        let readable = match stored.readable(variant, principal.as_ref()) {
            Ok(readable) => readable,
            // Not every reader may see the original; the derivatives decide.
            Err(_) if variant == Variant::Original => continue,
            Err(error) => return Err(error),
        };
        let access = Access::Get {
            content_type: &readable.content_type,
        };
        let signed = state
            .storage
            .sign(&readable.key, access, ttl)
            .await
            .map_err(storage_unavailable)?;
        urls.expires_at = signed.expires_at;
        let url = Some(absolute(&state, &headers, signed.url));
        match variant {
            Variant::Display => urls.display = url,
            Variant::Thumbnail => urls.thumbnail = url,
            Variant::Original => urls.original = url,
        }
    }
    Ok(Json(urls))
}

/// An absolute URL for a client: S3's URLs are; the local backend's are paths on the gateway,
/// which the client reached at `media.public_url` or at the host it asked for.
pub(crate) fn absolute(state: &MediaState, headers: &HeaderMap, url: String) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        return url;
    }
    let base = platform::http::public_base_url(state.config.public_url.as_deref(), headers);
    format!("{base}{url}")
}

/// Streams an object, or the byte range the request asks for.
pub(crate) async fn serve(
    state: &MediaState,
    key: &str,
    content_type: &str,
    headers: &HeaderMap,
    cache_control: &'static str,
) -> Result<Response, ApiError> {
    let size = state
        .storage
        .size(key)
        .await
        .map_err(storage_unavailable)?
        .ok_or(platform::error::SharedError::MediaNotFound)?;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(value) => Some(parse_range(value, size).ok_or_else(|| {
            ApiError::from(MediaError::RangeNotSatisfiable).with_header(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}"))
                    .unwrap_or(HeaderValue::from_static("bytes */0")),
            )
        })?),
        None => None,
    };
    let body = state
        .storage
        .stream(key, range.clone())
        .await
        .map_err(storage_unavailable)?;
    let length = range.as_ref().map_or(size, |range| range.end - range.start);
    let mut response = Response::new(body);
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).map_err(ApiError::internal)?,
    );
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // The type was judged from the bytes; browsers must not guess another.
    response_headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    if let Some(range) = range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        response.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {}-{}/{size}", range.start, range.end - 1))
                .map_err(ApiError::internal)?,
        );
    }
    Ok(response.into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn byte_ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some(0..100));
        assert_eq!(parse_range("bytes=900-", 1000), Some(900..1000));
        assert_eq!(parse_range("bytes=-100", 1000), Some(900..1000));
        assert_eq!(parse_range("bytes=990-2000", 1000), Some(990..1000));
        assert_eq!(parse_range("bytes=1000-", 1000), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
    }
}
