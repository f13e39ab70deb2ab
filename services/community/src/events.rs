//! The city's events calendar: festivals, performances, sport and ward gatherings that a
//! jurisdiction's operators (or a ward's officers, for their ward) publish. Residents list a
//! period's events, of their ward and the whole city, and add one event or subscribe to a
//! calendar as iCalendar; a changed or cancelled event reaches subscribed calendars by its
//! `SEQUENCE`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};
use platform::ApiError;
use platform::auth::{Principal, Role};
use platform::error::SharedError;
use platform::extract::{IdempotencyKey, JsonBody, QueryParams};
use platform::idempotency;
use platform::lang::Lang;
use platform::text::Text;
use platform::vietnam_time::{OFFSET, today};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::errors::CommunityError;
use crate::ical::{self, CalendarEvent, When};
use crate::staff::is_staff;
use crate::{CommunityState, input};

/// The kinds of event.
const CATEGORIES: [&str; 5] = ["festival", "culture", "sport", "community", "other"];

/// The longest period one list covers, and the longest an event lasts.
const MAX_DAYS: u64 = 366;

/// How far a calendar subscription reaches back: a subscriber still sees last month.
const CALENDAR_PAST_DAYS: u64 = 31;

/// Most events one calendar file holds.
const CALENDAR_MAX: i64 = 1000;

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: Uuid,
    jurisdiction: String,
    ward: Option<String>,
    category: String,
    title_vi: String,
    title_en: String,
    description_vi: String,
    description_en: String,
    venue_vi: String,
    venue_en: String,
    latitude: Option<f64>,
    longitude: Option<f64>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    all_day: bool,
    url: Option<String>,
    cancelled: bool,
    sequence: i32,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, jurisdiction, ward, category, title_vi, title_en, description_vi, \
    description_en, venue_vi, venue_en, latitude, longitude, starts_at, ends_at, all_day, url, \
    cancelled, sequence, updated_at";

/// An event as residents see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    id: Uuid,
    jurisdiction: String,
    /// The ward it is for; absent for the whole city's.
    #[serde(skip_serializing_if = "Option::is_none")]
    ward: Option<String>,
    /// `festival`, `culture`, `sport`, `community` or `other`.
    category: String,
    title: Text,
    description: Text,
    venue: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<Position>,
    /// When it starts and ends; for an all-day event, local midnight of its first day and
    /// after its last.
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    all_day: bool,
    /// An all-day event's first and last day, in Vietnam.
    #[serde(skip_serializing_if = "Option::is_none")]
    first_day: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_day: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    cancelled: bool,
    /// Its iCalendar file, to add it to a calendar.
    calendar_url: String,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Position {
    lat: f64,
    lng: f64,
}

impl Row {
    fn view(self) -> EventView {
        let (first_day, last_day) = if self.all_day {
            let (first, after) = self.days();
            (Some(first), after.pred_opt())
        } else {
            (None, None)
        };
        EventView {
            calendar_url: format!("/v1/events/{}/{}/calendar.ics", self.jurisdiction, self.id),
            id: self.id,
            jurisdiction: self.jurisdiction,
            ward: self.ward,
            category: self.category,
            title: Text {
                vi: self.title_vi,
                en: self.title_en,
            },
            description: Text {
                vi: self.description_vi,
                en: self.description_en,
            },
            venue: Text {
                vi: self.venue_vi,
                en: self.venue_en,
            },
            position: self
                .latitude
                .zip(self.longitude)
                .map(|(lat, lng)| Position { lat, lng }),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            all_day: self.all_day,
            first_day,
            last_day,
            url: self.url,
            cancelled: self.cancelled,
            updated_at: self.updated_at,
        }
    }

    /// An all-day event's first day and the day after its last, in Vietnam.
    fn days(&self) -> (NaiveDate, NaiveDate) {
        (
            self.starts_at.with_timezone(&OFFSET).date_naive(),
            self.ends_at.with_timezone(&OFFSET).date_naive(),
        )
    }

    /// Its iCalendar UID: stable across changes, unique across cities.
    fn uid(&self) -> String {
        format!("{}@{}.events.citizen", self.id, self.jurisdiction)
    }
}

/// Local midnight starting `day`.
fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN)
        .and_local_timezone(OFFSET)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// First day (Vietnam), default today.
    from: Option<NaiveDate>,
    /// Last day (Vietnam), default 90 days after `from`; at most 366 days after it.
    to: Option<NaiveDate>,
    /// A ward's events, and the whole city's.
    ward: Option<String>,
    category: Option<String>,
    /// The `next` of the last page.
    cursor: Option<String>,
    /// 1 to 100, default 50.
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    events: Vec<EventView>,
    /// The next page's cursor, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// The events of a period that are not over by its first day, in order of start: the whole
/// city's and, with `ward`, that ward's (else every ward's). Cancelled ones stay, marked.
#[utoipa::path(get, path = "/v1/events/{jurisdiction}", operation_id = "list_events", tag = "events",
    params(("jurisdiction" = String, Path), ListQuery),
    responses(
        (status = 200, body = EventList),
        (status = 400, body = platform::error::Problem, description = "`invalid_query` (a period backwards or over 366 days), `invalid_cursor`"),
        (status = 404, body = platform::error::Problem, description = "`jurisdiction_not_found` for an id that cannot be one (an unknown one has no events)"),
        (status = 422, body = platform::error::Problem, description = "`unknown_event_category`"),
    ))]
pub async fn list(
    State(state): State<CommunityState>,
    Path(jurisdiction): Path<String>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<EventList>, ApiError> {
    input::jurisdiction(&jurisdiction)?;
    let limit = input::limit(query.limit, 50, 100)?;
    let from = query.from.unwrap_or_else(today);
    let to = query
        .to
        .unwrap_or_else(|| from.checked_add_days(Days::new(90)).unwrap_or(from));
    if to < from || (to - from).num_days() > MAX_DAYS as i64 {
        return Err(SharedError::InvalidQuery {
            reason: format!("`to` is on or after `from`, at most {MAX_DAYS} days later"),
        }
        .into());
    }
    if let Some(category) = &query.category
        && !CATEGORIES.contains(&category.as_str())
    {
        return Err(CommunityError::UnknownEventCategory.into());
    }
    let after = query
        .cursor
        .as_deref()
        .map(platform::cursor::decode)
        .transpose()?;
    let (after_start, after_id) = after.unzip();
    let after_day = to.succ_opt().unwrap_or(to);
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events
         WHERE jurisdiction = $1 AND ends_at > $2 AND starts_at < $3
           -- No event lasts longer: the index on starts_at bounds the scan.
           AND starts_at > $2 - make_interval(days => 366)
           AND ($4::text IS NULL OR ward IS NULL OR ward = $4)
           AND ($5::text IS NULL OR category = $5)
           AND ($6::timestamptz IS NULL OR (starts_at, id) > ($6, $7))
         ORDER BY starts_at, id LIMIT $8"
    ))
    .bind(&jurisdiction)
    .bind(midnight(from))
    .bind(midnight(after_day))
    .bind(&query.ward)
    .bind(&query.category)
    .bind(after_start)
    .bind(after_id)
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(page(rows, limit)))
}

fn page(mut rows: Vec<Row>, limit: i64) -> EventList {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = more
        .then(|| {
            rows.last()
                .map(|r| platform::cursor::encode(r.starts_at, r.id))
        })
        .flatten();
    EventList {
        events: rows.into_iter().map(Row::view).collect(),
        next,
    }
}

async fn load(pool: &PgPool, jurisdiction: &str, id: Uuid) -> Result<Row, ApiError> {
    input::jurisdiction(jurisdiction)?;
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events WHERE id = $1 AND jurisdiction = $2"
    ))
    .bind(id)
    .bind(jurisdiction)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| CommunityError::EventNotFound.into())
}

/// One event.
#[utoipa::path(get, path = "/v1/events/{jurisdiction}/{id}", operation_id = "get_event", tag = "events",
    params(("jurisdiction" = String, Path), ("id" = Uuid, Path)),
    responses(
        (status = 200, body = EventView),
        (status = 404, body = platform::error::Problem, description = "`event_not_found`"),
    ))]
pub async fn get(
    State(state): State<CommunityState>,
    Path((jurisdiction, id)): Path<(String, Uuid)>,
) -> Result<Json<EventView>, ApiError> {
    Ok(Json(load(&state.pool, &jurisdiction, id).await?.view()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CalendarQuery {
    /// A ward's events and the whole city's; else every event of the jurisdiction.
    ward: Option<String>,
    /// `vi` or `en`; else from `Accept-Language`, Vietnamese first.
    lang: Option<String>,
}

/// The jurisdiction's calendar (or a ward's) as iCalendar (RFC 5545), to subscribe to: the
/// events of the last month and the coming year, cancelled ones marked so, at most 1,000.
#[utoipa::path(get, path = "/v1/events/{jurisdiction}/calendar.ics", operation_id = "events_calendar", tag = "events",
    params(("jurisdiction" = String, Path), CalendarQuery),
    responses(
        (status = 200, content_type = "text/calendar", body = String, description = "An iCalendar object, `METHOD:PUBLISH`"),
        (status = 400, body = platform::error::Problem, description = "`invalid_query`"),
        (status = 404, body = platform::error::Problem, description = "`jurisdiction_not_found`"),
    ))]
pub async fn calendar(
    State(state): State<CommunityState>,
    Path(jurisdiction): Path<String>,
    QueryParams(query): QueryParams<CalendarQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    input::jurisdiction(&jurisdiction)?;
    let lang = language(query.lang.as_deref(), &headers)?;
    let since = today()
        .checked_sub_days(Days::new(CALENDAR_PAST_DAYS))
        .unwrap_or_else(today);
    let until = today()
        .checked_add_days(Days::new(MAX_DAYS))
        .unwrap_or_else(today);
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events
         WHERE jurisdiction = $1 AND ends_at > $2 AND starts_at < $3
           AND starts_at > $2 - make_interval(days => 366)
           AND ($4::text IS NULL OR ward IS NULL OR ward = $4)
         ORDER BY starts_at, id LIMIT $5"
    ))
    .bind(&jurisdiction)
    .bind(midnight(since))
    .bind(midnight(until))
    .bind(&query.ward)
    .bind(CALENDAR_MAX)
    .fetch_all(&state.pool)
    .await?;
    let name = match &query.ward {
        Some(ward) => format!("{} — {ward}", lang.pick("Sự kiện", "Events")),
        None => lang.pick("Sự kiện", "Events").to_owned(),
    };
    Ok(ics(&name, lang, &rows, "events.ics"))
}

/// One event as iCalendar, to add it to a calendar.
#[utoipa::path(get, path = "/v1/events/{jurisdiction}/{id}/calendar.ics", operation_id = "event_calendar", tag = "events",
    params(("jurisdiction" = String, Path), ("id" = Uuid, Path), ("lang" = Option<String>, Query, description = "`vi` or `en`; else from `Accept-Language`")),
    responses(
        (status = 200, content_type = "text/calendar", body = String, description = "An iCalendar object with the one event"),
        (status = 404, body = platform::error::Problem, description = "`event_not_found`"),
    ))]
pub async fn one_calendar(
    State(state): State<CommunityState>,
    Path((jurisdiction, id)): Path<(String, Uuid)>,
    QueryParams(query): QueryParams<CalendarQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers)?;
    let row = load(&state.pool, &jurisdiction, id).await?;
    let name = lang.pick(&row.title_vi, &row.title_en).to_owned();
    Ok(ics(&name, lang, &[row], &format!("{id}.ics")))
}

fn language(asked: Option<&str>, headers: &HeaderMap) -> Result<Lang, ApiError> {
    match asked {
        None => Ok(Lang::negotiate(headers)),
        Some("vi") => Ok(Lang::Vi),
        Some("en") => Ok(Lang::En),
        Some(_) => Err(SharedError::InvalidQuery {
            reason: "lang is vi or en".to_owned(),
        }
        .into()),
    }
}

/// A kind of event as a resident reads it.
fn category_name(category: &str, lang: Lang) -> &'static str {
    match category {
        "festival" => lang.pick("Lễ hội", "Festival"),
        "culture" => lang.pick("Văn hóa, nghệ thuật", "Culture"),
        "sport" => lang.pick("Thể thao", "Sport"),
        "community" => lang.pick("Cộng đồng", "Community"),
        _ => lang.pick("Khác", "Other"),
    }
}

/// Rows as an iCalendar file download.
fn ics(name: &str, lang: Lang, rows: &[Row], filename: &str) -> Response {
    let uids: Vec<String> = rows.iter().map(Row::uid).collect();
    let categories: Vec<[&str; 1]> = rows
        .iter()
        .map(|row| [category_name(&row.category, lang)])
        .collect();
    // With METHOD:PUBLISH, DTSTAMP is when the file was made (RFC 5545 §3.8.7.2).
    let now = Utc::now();
    let events: Vec<CalendarEvent> = rows
        .iter()
        .zip(uids.iter().zip(&categories))
        .map(|(row, (uid, categories))| {
            let (starts, ends) = if row.all_day {
                let (first, after) = row.days();
                (When::Day(first), When::Day(after))
            } else {
                (When::At(row.starts_at), When::At(row.ends_at))
            };
            CalendarEvent {
                uid,
                sequence: row.sequence,
                stamp: now,
                last_modified: row.updated_at,
                starts,
                ends,
                summary: lang.pick(&row.title_vi, &row.title_en),
                description: Some(lang.pick(&row.description_vi, &row.description_en)),
                location: Some(lang.pick(&row.venue_vi, &row.venue_en)),
                position: row.latitude.zip(row.longitude),
                url: row.url.as_deref(),
                categories,
                cancelled: row.cancelled,
            }
        })
        .collect();
    let body = ical::write(&ical::Calendar {
        name,
        language: lang.as_str(),
        events: &events,
    });
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}

/// An event as staff write it: timed (`starts_at`, `ends_at`) or all-day (`first_day`,
/// `last_day`, in Vietnam), one or the other.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    jurisdiction: String,
    /// For one ward (its officers may publish it); absent for the whole city (admins only).
    ward: Option<String>,
    category: String,
    /// At most 200 characters each.
    title_vi: String,
    title_en: String,
    /// At most 5,000 characters each.
    description_vi: String,
    description_en: String,
    /// Where, at most 200 characters each.
    venue_vi: String,
    venue_en: String,
    position: Option<Position>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    first_day: Option<NaiveDate>,
    last_day: Option<NaiveDate>,
    /// An `https` page about it.
    url: Option<String>,
}

/// A `NewEvent`, checked.
struct Checked {
    ward: Option<String>,
    texts: [String; 6],
    position: Option<Position>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    all_day: bool,
    url: Option<String>,
}

impl NewEvent {
    fn check(&self) -> Result<Checked, ApiError> {
        if !CATEGORIES.contains(&self.category.as_str()) {
            return Err(CommunityError::UnknownEventCategory.into());
        }
        let texts = [
            input::text("title_vi", &self.title_vi, 200)?,
            input::text("title_en", &self.title_en, 200)?,
            input::text("description_vi", &self.description_vi, 5000)?,
            input::text("description_en", &self.description_en, 5000)?,
            input::text("venue_vi", &self.venue_vi, 200)?,
            input::text("venue_en", &self.venue_en, 200)?,
        ];
        if let Some(Position { lat, lng }) = self.position
            && !platform::geo::valid_position(lat, lng)
        {
            return Err(SharedError::InvalidPosition.into());
        }
        let (starts_at, ends_at, all_day) =
            match (self.starts_at, self.ends_at, self.first_day, self.last_day) {
                (Some(starts), Some(ends), None, None) => (starts, ends, false),
                (None, None, Some(first), Some(last)) => (
                    midnight(first),
                    midnight(last.succ_opt().ok_or(CommunityError::InvalidEventPeriod)?),
                    true,
                ),
                _ => return Err(CommunityError::InvalidEventPeriod.into()),
            };
        if ends_at <= starts_at || ends_at - starts_at > TimeDelta::days(MAX_DAYS as i64) {
            return Err(CommunityError::InvalidEventPeriod.into());
        }
        let url = match &self.url {
            None => None,
            Some(url) => Some(https_url(url)?),
        };
        Ok(Checked {
            ward: self.ward.clone(),
            texts,
            position: self.position,
            starts_at,
            ends_at,
            all_day,
            url,
        })
    }
}

/// An `https` URL of at most 500 characters.
fn https_url(url: &str) -> Result<String, ApiError> {
    let valid = url.len() <= 500
        && url
            .parse::<http::Uri>()
            .is_ok_and(|uri| uri.scheme_str() == Some("https") && uri.host().is_some());
    if valid {
        Ok(url.to_owned())
    } else {
        Err(SharedError::InvalidField {
            field: "url",
            rule_vi: "một địa chỉ https, tối đa 500 ký tự".to_owned(),
            rule_en: "an https URL of at most 500 characters".to_owned(),
        }
        .into())
    }
}

/// Whether the caller may publish or change an event of `ward` (`None`: the whole city's):
/// the jurisdiction's admins any, a ward's officers their ward's.
fn may_edit(principal: &Principal, jurisdiction: &str, ward: Option<&str>) -> bool {
    principal.administers(jurisdiction)
        || ward.is_some_and(|ward| {
            principal.has_role(Role::WardOfficer)
                && principal.scope.jurisdiction.as_deref() == Some(jurisdiction)
                && principal.scope.wards.iter().any(|w| w == ward)
        })
}

/// The operation `Idempotency-Key`s of event creation are fingerprinted with.
const CREATE_EVENT: &str = "create_event";

/// Publishes an event, once per `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/admin/events", operation_id = "create_event", tag = "events", request_body = NewEvent,
    params(("Idempotency-Key" = String, Header, description = "Unique per event; a retry reuses it")),
    responses(
        (status = 201, body = EventView, description = "Published (or the first answer to this key, replayed with `Idempotent-Replayed: true`)"),
        (status = 400, body = platform::error::Problem, description = "`idempotency_key_required`, `invalid_body`"),
        (status = 404, body = platform::error::Problem, description = "Not an admin of the jurisdiction, nor an officer of the event's ward; `jurisdiction_not_found`"),
        (status = 422, body = platform::error::Problem, description = "`invalid_field`, `unknown_event_category`, `invalid_event_period`, `invalid_position`, `unknown_ward`, `idempotency_key_reused`"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<CommunityState>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(request): JsonBody<NewEvent>,
) -> Result<Response, ApiError> {
    if !may_edit(&principal, &request.jurisdiction, request.ward.as_deref()) {
        return Err(ApiError::route_not_found());
    }
    input::jurisdiction(&request.jurisdiction)?;
    let event = request.check()?;
    state
        .check_place(&request.jurisdiction, event.ward.as_deref())
        .await?;
    let fingerprint = idempotency::fingerprint(CREATE_EVENT, &request)?;
    let (account, key) = (principal.account_id, key.as_str());
    let mut tx = state.pool.begin().await?;
    if let Some(answer) = idempotency::claim_in(&mut tx, account, key, &fingerprint).await? {
        return Ok(answer.replayed());
    }
    let id = Uuid::now_v7();
    write(
        &mut tx,
        id,
        &request.jurisdiction,
        &request.category,
        &event,
        Some(account),
    )
    .await?;
    let view = load_in(&mut tx, id).await?.view();
    let answer = serde_json::to_value(&view).map_err(ApiError::internal)?;
    idempotency::answer_in(&mut tx, account, key, StatusCode::CREATED, &answer).await?;
    tx.commit().await?;
    tracing::info!(event = %id, jurisdiction = request.jurisdiction, "event published");
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Stores a new event.
async fn write(
    tx: &mut PgConnection,
    id: Uuid,
    jurisdiction: &str,
    category: &str,
    event: &Checked,
    author: Option<Uuid>,
) -> Result<(), ApiError> {
    let [
        title_vi,
        title_en,
        description_vi,
        description_en,
        venue_vi,
        venue_en,
    ] = &event.texts;
    sqlx::query!(
        r#"INSERT INTO events (id, jurisdiction, ward, category, title_vi, title_en,
                               description_vi, description_en, venue_vi, venue_en, latitude,
                               longitude, starts_at, ends_at, all_day, url, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"#,
        id,
        jurisdiction,
        event.ward,
        category,
        title_vi,
        title_en,
        description_vi,
        description_en,
        venue_vi,
        venue_en,
        event.position.map(|p| p.lat),
        event.position.map(|p| p.lng),
        event.starts_at,
        event.ends_at,
        event.all_day,
        event.url,
        author,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn load_in(tx: &mut PgConnection, id: Uuid) -> Result<Row, ApiError> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM events WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?,
    )
}

/// An event being changed, locked, when the caller may change it (404 otherwise: staff of
/// another ward or jurisdiction learn nothing of it).
async fn editable(tx: &mut PgConnection, principal: &Principal, id: Uuid) -> Result<Row, ApiError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.filter(|row| may_edit(principal, &row.jurisdiction, row.ward.as_deref()))
        .ok_or_else(|| CommunityError::EventNotFound.into())
}

/// Changes an event whole (its jurisdiction stays); subscribed calendars take the change.
#[utoipa::path(put, path = "/v1/admin/events/{id}", operation_id = "replace_event", tag = "events",
    params(("id" = Uuid, Path)), request_body = NewEvent,
    responses(
        (status = 200, body = EventView),
        (status = 404, body = platform::error::Problem, description = "`event_not_found`, also for an event the caller may not change"),
        (status = 409, body = platform::error::Problem, description = "`event_cancelled`"),
        (status = 422, body = platform::error::Problem, description = "`invalid_field`, `unknown_event_category`, `invalid_event_period`, `invalid_position`, `unknown_ward`"),
    ),
    security(("bearer" = [])))]
pub async fn replace(
    State(state): State<CommunityState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonBody(request): JsonBody<NewEvent>,
) -> Result<Json<EventView>, ApiError> {
    // Residents learn nothing of staff routes, not even what is wrong with a body.
    if !is_staff(&principal) {
        return Err(ApiError::route_not_found());
    }
    let event = request.check()?;
    let mut tx = state.pool.begin().await?;
    let current = editable(&mut tx, &principal, id).await?;
    // It stays in its jurisdiction, and an officer keeps it in their wards.
    if request.jurisdiction != current.jurisdiction
        || !may_edit(&principal, &request.jurisdiction, event.ward.as_deref())
    {
        return Err(CommunityError::EventNotFound.into());
    }
    if current.cancelled {
        return Err(CommunityError::EventCancelled.into());
    }
    state
        .check_place(&request.jurisdiction, event.ward.as_deref())
        .await?;
    let [
        title_vi,
        title_en,
        description_vi,
        description_en,
        venue_vi,
        venue_en,
    ] = &event.texts;
    sqlx::query!(
        r#"UPDATE events SET ward = $2, category = $3, title_vi = $4, title_en = $5,
                  description_vi = $6, description_en = $7, venue_vi = $8, venue_en = $9,
                  latitude = $10, longitude = $11, starts_at = $12, ends_at = $13,
                  all_day = $14, url = $15, sequence = sequence + 1, updated_at = now()
           WHERE id = $1"#,
        id,
        event.ward,
        request.category,
        title_vi,
        title_en,
        description_vi,
        description_en,
        venue_vi,
        venue_en,
        event.position.map(|p| p.lat),
        event.position.map(|p| p.lng),
        event.starts_at,
        event.ends_at,
        event.all_day,
        event.url,
    )
    .execute(&mut *tx)
    .await?;
    let view = load_in(&mut tx, id).await?.view();
    tx.commit().await?;
    Ok(Json(view))
}

/// Cancels an event: it stays listed, marked cancelled, so calendars that hold it learn so.
/// Cancelling it again changes nothing.
#[utoipa::path(post, path = "/v1/admin/events/{id}/cancel", operation_id = "cancel_event", tag = "events",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = EventView),
        (status = 404, body = platform::error::Problem, description = "`event_not_found`, also for an event the caller may not change"),
    ),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<CommunityState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<EventView>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let current = editable(&mut tx, &principal, id).await?;
    if !current.cancelled {
        sqlx::query!(
            "UPDATE events SET cancelled = true, sequence = sequence + 1, updated_at = now()
             WHERE id = $1",
            id
        )
        .execute(&mut *tx)
        .await?;
        tracing::info!(event = %id, "event cancelled");
    }
    let view = load_in(&mut tx, id).await?.view();
    tx.commit().await?;
    Ok(Json(view))
}

/// The demo city's events (`data/hue-events.toml`), as an operator would send them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoEvents {
    events: Vec<NewEvent>,
}

const DEMO_EVENTS: &str = include_str!("../data/hue-events.toml");

/// Gives `jurisdiction` the demo city's events when it has none.
pub async fn seed_demo(pool: &PgPool, jurisdiction: &str) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    // One replica seeds; the others wait here and then find the events.
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext('community.seed_demo'))")
        .execute(&mut *tx)
        .await?;
    let has_some = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM events WHERE jurisdiction = $1) AS "exists!""#,
        jurisdiction
    )
    .fetch_one(&mut *tx)
    .await?;
    if has_some {
        return Ok(());
    }
    let demo: DemoEvents = toml::from_str(DEMO_EVENTS)?;
    for mut event in demo.events {
        event.jurisdiction = jurisdiction.to_owned();
        let checked = event
            .check()
            .map_err(|error| anyhow::anyhow!("a demo event: {}", error.describe()))?;
        let id = Uuid::now_v7();
        write(&mut tx, id, jurisdiction, &event.category, &checked, None)
            .await
            .map_err(|error| anyhow::anyhow!("a demo event: {}", error.describe()))?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_events_are_valid() {
        let demo: DemoEvents = toml::from_str(DEMO_EVENTS).unwrap();
        assert!(demo.events.len() >= 8);
        for event in demo.events {
            assert!(event.check().is_ok(), "{}", event.title_en);
        }
    }

    #[test]
    fn an_all_day_event_runs_from_local_midnight_to_the_midnight_after_its_last_day() {
        let day = |d| NaiveDate::from_ymd_opt(2027, 4, d).unwrap();
        let starts = midnight(day(10));
        assert_eq!(starts.to_rfc3339(), "2027-04-09T17:00:00+00:00");
        assert_eq!(
            starts.with_timezone(&OFFSET).date_naive(),
            day(10),
            "the first day, in Vietnam"
        );
    }
}
