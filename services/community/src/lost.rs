//! Lost and found. A resident posts what they lost or found, with photos through media; anyone
//! may search the notices. Found things go to the police or the ward office: its officers mark
//! a thing kept (and where), then handed back. Who posted is never shown, and photos of found
//! papers (identity cards, licences) only to the poster and the officers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Days, NaiveDate, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::error::SharedError;
use platform::extract::{IdempotencyKey, JsonBody, QueryParams};
use platform::idempotency;
use platform::vietnam_time::today;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::errors::CommunityError;
use crate::staff::works_on;
use crate::{CommunityState, input};

/// The kinds of belongings.
const CATEGORIES: [&str; 8] = [
    "documents",
    "wallet",
    "phone",
    "keys",
    "bag",
    "vehicle",
    "jewellery",
    "other",
];

/// Papers carry a person's identity: their photos are never public.
const PRIVATE_CATEGORY: &str = "documents";

/// The department whose staff keep found things (with the ward's officers).
const KEEPING_DEPARTMENT: &str = "public-order";

/// Most photos of one notice.
const MAX_PHOTOS: usize = 4;

/// How long an open notice stays in the public list; a kept thing stays until handed back.
const LISTED_DAYS: i32 = 90;

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: Uuid,
    jurisdiction: String,
    ward: Option<String>,
    kind: String,
    category: String,
    description: String,
    place: String,
    occurred_on: NaiveDate,
    media_ids: Vec<Uuid>,
    posted_by: Option<Uuid>,
    status: String,
    held_at: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, jurisdiction, ward, kind, category, description, place, occurred_on, \
    media_ids, posted_by, status, held_at, created_at, updated_at";

/// A lost-and-found notice.
#[derive(Debug, Serialize, ToSchema)]
pub struct LostItemView {
    id: Uuid,
    jurisdiction: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ward: Option<String>,
    /// `lost` or `found`.
    kind: String,
    /// `documents`, `wallet`, `phone`, `keys`, `bag`, `vehicle`, `jewellery` or `other`.
    category: String,
    description: String,
    /// Where it was lost or found, in the poster's words.
    place: String,
    occurred_on: NaiveDate,
    /// Media ids of its photos (`/v1/media/{id}/display`); papers' only for the poster and
    /// the officers.
    photos: Vec<Uuid>,
    /// `open`, `held` (kept by the officers, at `held_at`), `returned` or `withdrawn`.
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    held_at: Option<String>,
    /// Whether the caller posted it.
    mine: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Row {
    fn view(self, viewer: Option<&Principal>) -> LostItemView {
        let mine = viewer.is_some_and(|p| self.posted_by == Some(p.account_id));
        // Papers' photos, and those of a settled notice (media made them private), are for
        // the poster and the officers only.
        let photos_shown = (self.category != PRIVATE_CATEGORY && !self.settled())
            || mine
            || viewer.is_some_and(|p| self.handled_by(p));
        LostItemView {
            photos: if photos_shown {
                self.media_ids
            } else {
                Vec::new()
            },
            id: self.id,
            jurisdiction: self.jurisdiction,
            ward: self.ward,
            kind: self.kind,
            category: self.category,
            description: self.description,
            place: self.place,
            occurred_on: self.occurred_on,
            status: self.status,
            held_at: self.held_at,
            mine,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// Whether `principal` is among the officers who keep and hand back this thing.
    fn handled_by(&self, principal: &Principal) -> bool {
        works_on(
            principal,
            &self.jurisdiction,
            self.ward.as_deref(),
            Some(KEEPING_DEPARTMENT),
        )
    }

    fn settled(&self) -> bool {
        matches!(self.status.as_str(), "returned" | "withdrawn")
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `lost` or `found`.
    kind: Option<String>,
    /// `held`: only what the officers keep, to come and claim; `open`: only what they do not.
    status: Option<String>,
    category: Option<String>,
    ward: Option<String>,
    /// Words of the description, at most 100 characters.
    q: Option<String>,
    cursor: Option<String>,
    /// 1 to 100, default 30.
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LostItemList {
    items: Vec<LostItemView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// The notices still open (those of the last 90 days) and the things the officers keep,
/// newest first; `status=held` searches only what the officers keep.
#[utoipa::path(get, path = "/v1/lost-and-found/{jurisdiction}", operation_id = "list_lost_items", tag = "lost-and-found",
    params(("jurisdiction" = String, Path), ListQuery),
    responses(
        (status = 200, body = LostItemList),
        (status = 400, body = platform::error::Problem, description = "`invalid_query`, `invalid_cursor`"),
        (status = 404, body = platform::error::Problem, description = "`jurisdiction_not_found`"),
        (status = 422, body = platform::error::Problem, description = "`unknown_lost_category`"),
    ))]
pub async fn list(
    State(state): State<CommunityState>,
    Path(jurisdiction): Path<String>,
    principal: Option<Principal>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<LostItemList>, ApiError> {
    input::jurisdiction(&jurisdiction)?;
    let limit = input::limit(query.limit, 30, 100)?;
    if let Some(kind) = &query.kind
        && !matches!(kind.as_str(), "lost" | "found")
    {
        return Err(SharedError::InvalidQuery {
            reason: "kind is lost or found".to_owned(),
        }
        .into());
    }
    if let Some(status) = &query.status
        && !matches!(status.as_str(), "open" | "held")
    {
        return Err(SharedError::InvalidQuery {
            reason: "status is open or held".to_owned(),
        }
        .into());
    }
    if let Some(category) = &query.category
        && !CATEGORIES.contains(&category.as_str())
    {
        return Err(CommunityError::UnknownLostCategory.into());
    }
    let pattern = match query.q.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(q) if q.chars().count() > 100 => {
            return Err(SharedError::InvalidQuery {
                reason: "q is at most 100 characters".to_owned(),
            }
            .into());
        }
        // The words as they are: `%`, `_` and `\` match only themselves.
        Some(q) => Some(format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )),
    };
    let (after_at, after_id) = query
        .cursor
        .as_deref()
        .map(platform::cursor::decode)
        .transpose()?
        .unzip();
    let mut rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM lost_items
         WHERE jurisdiction = $1 AND status IN ('open', 'held')
           AND (status = 'held' OR created_at > now() - make_interval(days => $2))
           AND ($3::text IS NULL OR kind = $3)
           AND ($4::text IS NULL OR category = $4)
           AND ($5::text IS NULL OR ward = $5)
           AND ($6::text IS NULL OR description ILIKE $6 OR place ILIKE $6)
           AND ($7::timestamptz IS NULL OR (created_at, id) < ($7, $8))
           AND ($10::text IS NULL OR status = $10)
         ORDER BY created_at DESC, id DESC LIMIT $9"
    ))
    .bind(&jurisdiction)
    .bind(LISTED_DAYS)
    .bind(&query.kind)
    .bind(&query.category)
    .bind(&query.ward)
    .bind(&pattern)
    .bind(after_at)
    .bind(after_id)
    .bind(limit + 1)
    .bind(&query.status)
    .fetch_all(&state.pool)
    .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = more
        .then(|| {
            rows.last()
                .map(|r| platform::cursor::encode(r.created_at, r.id))
        })
        .flatten();
    Ok(Json(LostItemList {
        items: rows
            .into_iter()
            .map(|row| row.view(principal.as_ref()))
            .collect(),
        next,
    }))
}

/// The caller's own notices, newest first (at most 100).
#[utoipa::path(get, path = "/v1/lost-and-found/mine", operation_id = "my_lost_items", tag = "lost-and-found",
    responses((status = 200, body = LostItemList)),
    security(("bearer" = [])))]
pub async fn mine(
    State(state): State<CommunityState>,
    principal: Principal,
) -> Result<Json<LostItemList>, ApiError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM lost_items WHERE posted_by = $1
         ORDER BY created_at DESC LIMIT 100"
    ))
    .bind(principal.account_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(LostItemList {
        items: rows
            .into_iter()
            .map(|row| row.view(Some(&principal)))
            .collect(),
        next: None,
    }))
}

/// A notice: anyone sees it until withdrawn; the poster and the officers always.
#[utoipa::path(get, path = "/v1/lost-and-found/{jurisdiction}/{id}", operation_id = "get_lost_item", tag = "lost-and-found",
    params(("jurisdiction" = String, Path), ("id" = Uuid, Path)),
    responses(
        (status = 200, body = LostItemView),
        (status = 404, body = platform::error::Problem, description = "`lost_item_not_found`"),
    ))]
pub async fn get(
    State(state): State<CommunityState>,
    Path((jurisdiction, id)): Path<(String, Uuid)>,
    principal: Option<Principal>,
) -> Result<Json<LostItemView>, ApiError> {
    let row = load(&state, &jurisdiction, id).await?;
    let visible = row.status != "withdrawn"
        || principal
            .as_ref()
            .is_some_and(|p| row.posted_by == Some(p.account_id) || row.handled_by(p));
    if !visible {
        return Err(CommunityError::LostItemNotFound.into());
    }
    Ok(Json(row.view(principal.as_ref())))
}

async fn load(state: &CommunityState, jurisdiction: &str, id: Uuid) -> Result<Row, ApiError> {
    input::jurisdiction(jurisdiction)?;
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM lost_items WHERE id = $1 AND jurisdiction = $2"
    ))
    .bind(id)
    .bind(jurisdiction)
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| CommunityError::LostItemNotFound.into())
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLostItem {
    /// `lost` or `found`.
    kind: String,
    category: String,
    /// What it is and how to recognise it, 1 to 1,000 characters. Leave out what only the
    /// owner would know: the officers ask it when handing a thing back.
    description: String,
    /// Where, 1 to 200 characters.
    place: String,
    /// The ward, when known.
    ward: Option<String>,
    /// The day, in the last year.
    occurred_on: NaiveDate,
    /// Up to 4 photos the caller uploaded to media.
    #[serde(default)]
    photos: Vec<Uuid>,
}

/// The operation `Idempotency-Key`s of new notices are fingerprinted with.
const POST_LOST_ITEM: &str = "post_lost_item";

/// Posts a notice of a thing lost or found, once per `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/lost-and-found/{jurisdiction}", operation_id = "post_lost_item", tag = "lost-and-found",
    params(("jurisdiction" = String, Path), ("Idempotency-Key" = String, Header, description = "Unique per notice; a retry reuses it")),
    request_body = NewLostItem,
    responses(
        (status = 201, body = LostItemView, description = "Posted (or the first answer to this key, replayed with `Idempotent-Replayed: true`)"),
        (status = 400, body = platform::error::Problem, description = "`idempotency_key_required`, `invalid_body`"),
        (status = 404, body = platform::error::Problem, description = "`jurisdiction_not_found`; `media_not_found` for a photo not the caller's"),
        (status = 409, body = platform::error::Problem, description = "`media_already_attached`"),
        (status = 422, body = platform::error::Problem, description = "`invalid_field`, `unknown_lost_category`, `unknown_ward`, `too_many_media`, `media_failed`, `idempotency_key_reused`"),
        (status = 429, body = platform::error::Problem, description = "`too_many_community_posts`"),
    ),
    security(("bearer" = [])))]
pub async fn post(
    State(state): State<CommunityState>,
    principal: Principal,
    Path(jurisdiction): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(request): JsonBody<NewLostItem>,
) -> Result<Response, ApiError> {
    input::jurisdiction(&jurisdiction)?;
    let fingerprint = idempotency::fingerprint(POST_LOST_ITEM, &(&jurisdiction, &request))?;
    let (account, key) = (principal.account_id, key.as_str());
    if let Some(answer) = idempotency::kept(&state.pool, account, key, &fingerprint).await? {
        return Ok(answer.replayed());
    }
    if !matches!(request.kind.as_str(), "lost" | "found") {
        return Err(SharedError::InvalidField {
            field: "kind",
            rule_vi: "lost hoặc found".to_owned(),
            rule_en: "lost or found".to_owned(),
        }
        .into());
    }
    if !CATEGORIES.contains(&request.category.as_str()) {
        return Err(CommunityError::UnknownLostCategory.into());
    }
    let description = input::text("description", &request.description, 1000)?;
    let place = input::text("place", &request.place, 200)?;
    let a_year_ago = today()
        .checked_sub_days(Days::new(366))
        .unwrap_or_else(today);
    if request.occurred_on > today() || request.occurred_on < a_year_ago {
        return Err(SharedError::InvalidField {
            field: "occurred_on",
            rule_vi: "một ngày trong năm qua, không phải ngày mai".to_owned(),
            rule_en: "a day within the last year, not in the future".to_owned(),
        }
        .into());
    }
    let mut photos = request.photos.clone();
    photos.sort();
    photos.dedup();
    if photos.len() > MAX_PHOTOS {
        return Err(SharedError::TooManyMedia { max: MAX_PHOTOS }.into());
    }
    state
        .check_place(&jurisdiction, request.ward.as_deref())
        .await?;
    state.count_post(account).await?;

    // The same account and key always name the same notice, so a retry after a fault attaches
    // the photos to the notice it then writes.
    let id = Uuid::new_v5(
        &account,
        format!("lost-item-idempotency-key:{key}").as_bytes(),
    );
    let public = request.category != PRIVATE_CATEGORY;
    if !photos.is_empty() {
        let scope = (jurisdiction.as_str(), request.ward.as_deref());
        attach_photos(&state, account, id, scope, &photos, public).await?;
    }
    // Written in one transaction; should it fail, the photos are let go again.
    let written: Result<Response, ApiError> = async {
        let mut tx = state.pool.begin().await?;
        // Concurrent retries with one key wait here for the first to commit, then replay it.
        if let Some(answer) = idempotency::claim_in(&mut tx, account, key, &fingerprint).await? {
            return Ok(answer.replayed());
        }
        let row: Row = sqlx::query_as(&format!(
            "INSERT INTO lost_items (id, jurisdiction, ward, kind, category, description, place,
                                     occurred_on, media_ids, posted_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(&jurisdiction)
        .bind(&request.ward)
        .bind(&request.kind)
        .bind(&request.category)
        .bind(&description)
        .bind(&place)
        .bind(request.occurred_on)
        .bind(&photos)
        .bind(account)
        .fetch_one(&mut *tx)
        .await?;
        let view = row.view(Some(&principal));
        let answer = serde_json::to_value(&view).map_err(ApiError::internal)?;
        idempotency::answer_in(&mut tx, account, key, StatusCode::CREATED, &answer).await?;
        tx.commit().await?;
        tracing::info!(item = %id, jurisdiction, kind = request.kind, "lost-and-found notice posted");
        Ok((StatusCode::CREATED, Json(view)).into_response())
    }
    .await;
    if written.is_err() && !photos.is_empty() {
        let listed: Vec<Uuid> =
            sqlx::query_scalar!("SELECT media_ids FROM lost_items WHERE id = $1", id)
                .fetch_optional(&state.pool)
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
        let strays: Vec<Uuid> = photos.into_iter().filter(|p| !listed.contains(p)).collect();
        if !strays.is_empty() {
            detach_photos(&state, id, &strays).await;
        }
    }
    written
}

/// Attaches the poster's photos to the notice `id` through media, readable by the officers of
/// its (jurisdiction, ward) and of the keeping department.
async fn attach_photos(
    state: &CommunityState,
    owner: Uuid,
    id: Uuid,
    (jurisdiction, ward): (&str, Option<&str>),
    photos: &[Uuid],
    public: bool,
) -> Result<(), ApiError> {
    let answer = state
        .media
        .call(
            http::Method::POST,
            "/internal/v1/media/attachments",
            Some(&json!({
                "owner_id": owner,
                "attached_to": format!("lost_item:{id}"),
                "media_ids": photos,
                "public": public,
                "scope": {
                    "jurisdiction": jurisdiction,
                    "ward": ward.unwrap_or_default(),
                    "department": KEEPING_DEPARTMENT,
                },
            })),
        )
        .await?;
    match answer.status.as_u16() {
        200..=299 => Ok(()),
        404 => Err(SharedError::MediaNotFound.into()),
        409 => Err(SharedError::MediaAlreadyAttached.into()),
        422 => Err(SharedError::MediaFailed.into()),
        other => Err(ApiError::internal(anyhow::anyhow!(
            "media answered {other} to an attachment"
        ))),
    }
}

/// Lets go of photos of a notice that was not written. Best effort: a failure is logged.
async fn detach_photos(state: &CommunityState, id: Uuid, photos: &[Uuid]) {
    let undone = state
        .media
        .call(
            http::Method::POST,
            &format!("/internal/v1/media/attachments/lost_item:{id}/detach"),
            Some(&json!({ "media_ids": photos })),
        )
        .await;
    if !undone.as_ref().is_ok_and(|a| a.status.is_success()) {
        tracing::warn!(item = %id, "photos of a notice that was not written stay attached");
    }
}

/// Makes a notice's photos private once it is settled: nobody searches for it any more.
async fn hide_photos(state: &CommunityState, row: &Row) -> Result<(), ApiError> {
    if row.media_ids.is_empty() {
        return Ok(());
    }
    let answer = state
        .media
        .call(
            http::Method::PUT,
            &format!(
                "/internal/v1/media/attachments/lost_item:{}/visibility",
                row.id
            ),
            Some(&json!({ "public": false })),
        )
        .await?;
    if answer.status.is_success() {
        Ok(())
    } else {
        Err(ApiError::internal(anyhow::anyhow!(
            "media answered {} to a change of visibility",
            answer.status
        )))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Handling {
    /// For `held`: where the thing is kept and when to come, 1 to 300 characters.
    held_at: Option<String>,
}

/// What happens to a notice: `withdraw` (its poster while open, or its officers taking down
/// what should not be there); `held` (an officer of its
/// ward or of public order keeps a found thing, and says where); `returned` (an officer handed
/// it back).
#[utoipa::path(post, path = "/v1/lost-and-found/{jurisdiction}/{id}/{action}", operation_id = "act_on_lost_item", tag = "lost-and-found",
    params(("jurisdiction" = String, Path), ("id" = Uuid, Path),
        ("action" = String, Path, description = "`withdraw`, `held` or `returned`")),
    request_body(content = Handling, description = "`{}`, or `held_at` for `held`"),
    responses(
        (status = 200, body = LostItemView),
        (status = 404, body = platform::error::Problem, description = "`lost_item_not_found`, also for a notice the caller may not act on"),
        (status = 409, body = platform::error::Problem, description = "`lost_item_settled`, `lost_item_held` (kept by the officers: only they settle it), `not_a_found_item`"),
        (status = 422, body = platform::error::Problem, description = "`invalid_field`"),
    ),
    security(("bearer" = [])))]
pub async fn act(
    State(state): State<CommunityState>,
    principal: Principal,
    Path((jurisdiction, id, action)): Path<(String, Uuid, String)>,
    JsonBody(handling): JsonBody<Handling>,
) -> Result<Json<LostItemView>, ApiError> {
    input::jurisdiction(&jurisdiction)?;
    let mut tx = state.pool.begin().await?;
    let row: Row = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM lost_items WHERE id = $1 AND jurisdiction = $2 FOR UPDATE"
    ))
    .bind(id)
    .bind(&jurisdiction)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(CommunityError::LostItemNotFound)?;
    let allowed = match action.as_str() {
        // Its poster, or its officers taking down what should not be there.
        "withdraw" => row.posted_by == Some(principal.account_id) || row.handled_by(&principal),
        "held" | "returned" => row.handled_by(&principal),
        _ => false,
    };
    if !allowed {
        return Err(CommunityError::LostItemNotFound.into());
    }
    if row.settled() {
        return Err(CommunityError::LostItemSettled.into());
    }
    let (status, held_at) = match action.as_str() {
        "withdraw" if row.status == "held" && !row.handled_by(&principal) => {
            return Err(CommunityError::LostItemHeld.into());
        }
        "withdraw" => ("withdrawn", row.held_at.clone()),
        "held" if row.kind != "found" => return Err(CommunityError::NotAFoundItem.into()),
        "held" => {
            let place = handling.held_at.as_deref().unwrap_or_default();
            ("held", Some(input::text("held_at", place, 300)?))
        }
        _ => ("returned", row.held_at.clone()),
    };
    let row: Row = sqlx::query_as(&format!(
        "UPDATE lost_items SET status = $2, held_at = $3, handled_by = $4, updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(status)
    .bind(&held_at)
    .bind((action != "withdraw").then_some(principal.account_id))
    .fetch_one(&mut *tx)
    .await?;
    if row.settled() {
        hide_photos(&state, &row).await?;
    }
    tx.commit().await?;
    tracing::info!(item = %id, status, "lost-and-found notice changed");
    Ok(Json(row.view(Some(&principal))))
}
