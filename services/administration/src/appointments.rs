//! Appointments at the public-service centre and the wards' one-stop counters: the services
//! each offers, free slots by its hours and counters, booking with a queue number and a QR
//! code, rescheduling, cancelling and a reminder; the centre's staff see the day's list and
//! mark arrivals by scanning the QR code.
//!
//! A slot holds as many residents as counters serve the service; a booking takes a place with
//! one conditional upsert on the slot's row (`booked < capacity`), so concurrent bookings never
//! overbook, and a cancellation gives it back in the same transaction that cancels.

use std::collections::BTreeMap;
use std::path::Path as FilePath;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use platform::ApiError;
use platform::auth::{Principal, Role};
use platform::events::types::AppointmentReminder;
use platform::extract::{IdempotencyKey, JsonBody, QueryParams};
use platform::idempotency;
use platform::jobs::Jobs;
use platform::text::Text;
use platform::vietnam_time::{OFFSET, today};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{AdministrationError, AdministrationState};

/// What a QR code of a booking carries before its id.
const QR_PREFIX: &str = "citizen:booking:";

/// The demo city's centres.
const DEMO_CENTRES: &str = include_str!("../data/centres.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CentresFile {
    centres: Vec<Centre>,
}

/// A place that takes appointments, as the city describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Centre {
    id: String,
    jurisdiction: String,
    /// A ward's desk, served by its officers.
    ward: Option<String>,
    /// A centre of the city, served by that department's staff.
    department: Option<String>,
    name_vi: String,
    name_en: String,
    address: String,
    latitude: f64,
    longitude: f64,
    slot_minutes: u32,
    hours: Vec<Hours>,
    #[serde(default)]
    closed: Vec<NaiveDate>,
    services: Vec<CounterService>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Hours {
    days: Vec<DayName>,
    opens: NaiveTime,
    closes: NaiveTime,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum DayName {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl DayName {
    fn is(self, day: Weekday) -> bool {
        let weekday = match self {
            Self::Mon => Weekday::Mon,
            Self::Tue => Weekday::Tue,
            Self::Wed => Weekday::Wed,
            Self::Thu => Weekday::Thu,
            Self::Fri => Weekday::Fri,
            Self::Sat => Weekday::Sat,
            Self::Sun => Weekday::Sun,
        };
        weekday == day
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterService {
    code: String,
    /// The queue numbers' letter (`A012`).
    letter: char,
    name_vi: String,
    name_en: String,
    /// Counters serving it: the residents one slot takes.
    counters: u32,
}

/// The centres by id, read from `file` or the demo city's; a broken file stops the start.
pub fn load(file: Option<&FilePath>) -> anyhow::Result<BTreeMap<String, Centre>> {
    let text = match file {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => DEMO_CENTRES.to_owned(),
    };
    let parsed: CentresFile = toml::from_str(&text)?;
    let mut centres = BTreeMap::new();
    for centre in parsed.centres {
        anyhow::ensure!(
            (5..=240).contains(&centre.slot_minutes),
            "centre {}: slot_minutes must be 5 to 240",
            centre.id
        );
        anyhow::ensure!(
            centre.ward.is_some() != centre.department.is_some(),
            "centre {}: a ward or a department serves it, one of the two",
            centre.id
        );
        for hours in &centre.hours {
            anyhow::ensure!(
                hours.opens < hours.closes,
                "centre {}: hours end before they start",
                centre.id
            );
        }
        for service in &centre.services {
            anyhow::ensure!(
                (1..=100).contains(&service.counters) && service.letter.is_ascii_uppercase(),
                "centre {} service {}: 1 to 100 counters and an uppercase letter",
                centre.id,
                service.code
            );
        }
        anyhow::ensure!(
            centres.insert(centre.id.clone(), centre.clone()).is_none(),
            "centre {} is listed twice",
            centre.id
        );
    }
    Ok(centres)
}

impl Centre {
    fn service(&self, code: &str) -> Result<&CounterService, ApiError> {
        self.services
            .iter()
            .find(|s| s.code == code)
            .ok_or_else(|| AdministrationError::CounterServiceNotFound.into())
    }

    /// The slots of `day`, by start, in Việt Nam time.
    fn slots(&self, day: NaiveDate) -> Vec<DateTime<Utc>> {
        if self.closed.contains(&day) {
            return Vec::new();
        }
        let step = chrono::Duration::minutes(i64::from(self.slot_minutes));
        let mut slots = Vec::new();
        for hours in self
            .hours
            .iter()
            .filter(|h| h.days.iter().any(|d| d.is(day.weekday())))
        {
            let mut start = hours.opens;
            while start + step <= hours.closes && start < start + step {
                if let Some(at) = OFFSET.from_local_datetime(&day.and_time(start)).single() {
                    slots.push(at.with_timezone(&Utc));
                }
                start += step;
            }
        }
        slots.sort();
        slots.dedup();
        slots
    }

    /// Whether `at` starts one of its slots that can still be booked.
    fn bookable(&self, at: DateTime<Utc>, horizon_days: u32) -> bool {
        let day = at.with_timezone(&OFFSET).date_naive();
        let last = today() + Days::new(u64::from(horizon_days));
        at > Utc::now() && day <= last && self.slots(day).contains(&at)
    }

    fn name(&self) -> Text {
        Text::new(&self.name_vi, &self.name_en)
    }
}

fn centre<'a>(state: &'a AdministrationState, id: &str) -> Result<&'a Centre, ApiError> {
    state
        .centres
        .get(id)
        .ok_or_else(|| AdministrationError::CentreNotFound.into())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CentreView {
    id: String,
    name: Text,
    address: String,
    latitude: f64,
    longitude: f64,
    slot_minutes: u32,
    services: Vec<ServiceView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    code: String,
    name: Text,
    counters: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Centres {
    centres: Vec<CentreView>,
}

/// The places that take appointments, and what each serves.
#[utoipa::path(get, path = "/v1/administration/centres", operation_id = "list_service_centres", tag = "administration",
    responses((status = 200, body = Centres)))]
pub async fn centres(State(state): State<AdministrationState>) -> Json<Centres> {
    Json(Centres {
        centres: state
            .centres
            .values()
            .map(|c| CentreView {
                id: c.id.clone(),
                name: c.name(),
                address: c.address.clone(),
                latitude: c.latitude,
                longitude: c.longitude,
                slot_minutes: c.slot_minutes,
                services: c
                    .services
                    .iter()
                    .map(|s| ServiceView {
                        code: s.code.clone(),
                        name: Text::new(&s.name_vi, &s.name_en),
                        counters: s.counters,
                    })
                    .collect(),
            })
            .collect(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SlotQuery {
    /// The service's code.
    service: String,
    /// The day (Việt Nam time): today to the booking horizon.
    date: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Slots {
    date: NaiveDate,
    /// The slots still to come that day, with their free places (0: full).
    slots: Vec<Slot>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Slot {
    starts_at: DateTime<Utc>,
    free: i32,
}

/// The slots of a day for a service, with their free places.
#[utoipa::path(get, path = "/v1/administration/centres/{centre}/slots", operation_id = "list_counter_slots", tag = "administration",
    params(("centre" = String, Path, description = "The centre's id"), SlotQuery),
    responses((status = 200, body = Slots),
        (status = 404, description = "`centre_not_found`, `counter_service_not_found`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn slots(
    State(state): State<AdministrationState>,
    Path(centre_id): Path<String>,
    QueryParams(query): QueryParams<SlotQuery>,
) -> Result<Json<Slots>, ApiError> {
    let centre = centre(&state, &centre_id)?;
    let service = centre.service(&query.service)?;
    let last = today() + Days::new(u64::from(state.config.booking_horizon_days));
    let now = Utc::now();
    let starts: Vec<DateTime<Utc>> = if query.date > last {
        Vec::new()
    } else {
        centre
            .slots(query.date)
            .into_iter()
            .filter(|s| *s > now)
            .collect()
    };
    let booked: BTreeMap<DateTime<Utc>, i32> = sqlx::query!(
        "SELECT starts_at, booked FROM booking_slots
         WHERE centre_id = $1 AND service_code = $2 AND starts_at = ANY($3)",
        centre.id,
        service.code,
        &starts
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| (r.starts_at, r.booked))
    .collect();
    let capacity = service.counters as i32;
    Ok(Json(Slots {
        date: query.date,
        slots: starts
            .into_iter()
            .map(|starts_at| Slot {
                starts_at,
                free: (capacity - booked.get(&starts_at).copied().unwrap_or(0)).max(0),
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterBookingRequest {
    centre: String,
    service: String,
    /// A slot's start, as the slots list gives it.
    starts_at: DateTime<Utc>,
}

/// A booking, as its holder sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Booking {
    id: Uuid,
    centre: String,
    centre_name: Text,
    address: String,
    service: String,
    service_name: Text,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    /// Called at the counter (`A012`).
    queue_number: String,
    /// What the QR code to show at the centre holds.
    qr_code: String,
    /// `booked`, `cancelled` or `arrived`.
    status: String,
}

struct BookingRow {
    id: Uuid,
    centre_id: String,
    service_code: String,
    starts_at: DateTime<Utc>,
    queue_number: String,
    status: String,
}

impl BookingRow {
    fn view(&self, state: &AdministrationState) -> Booking {
        let centre = state.centres.get(&self.centre_id);
        let service = centre.and_then(|c| c.services.iter().find(|s| s.code == self.service_code));
        let minutes = centre.map_or(30, |c| c.slot_minutes);
        Booking {
            id: self.id,
            centre: self.centre_id.clone(),
            centre_name: centre
                .map_or_else(|| Text::new(&self.centre_id, &self.centre_id), Centre::name),
            address: centre.map(|c| c.address.clone()).unwrap_or_default(),
            service: self.service_code.clone(),
            service_name: service.map_or_else(
                || Text::new(&self.service_code, &self.service_code),
                |s| Text::new(&s.name_vi, &s.name_en),
            ),
            starts_at: self.starts_at,
            ends_at: self.starts_at + chrono::Duration::minutes(i64::from(minutes)),
            queue_number: self.queue_number.clone(),
            qr_code: format!("{QR_PREFIX}{}", self.id),
            status: self.status.clone(),
        }
    }
}

/// Books a slot. Needs an `Idempotency-Key`: a retry books once and gets the first answer.
#[utoipa::path(post, path = "/v1/administration/appointments", operation_id = "book_counter_appointment", tag = "administration", security(("bearer" = [])),
    request_body = CounterBookingRequest,
    params(("Idempotency-Key" = String, Header, description = "Your own key for this booking; retries send the same")),
    responses((status = 201, body = Booking),
        (status = 400, description = "`idempotency_key_required`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`centre_not_found`, `counter_service_not_found`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`booking_slot_full`, `too_many_bookings`, `already_booked`, `idempotency_key_in_use`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`booking_slot_unavailable`, `idempotency_key_reused`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn book(
    State(state): State<AdministrationState>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(request): JsonBody<CounterBookingRequest>,
) -> Result<Response, ApiError> {
    let fingerprint = idempotency::fingerprint("POST /v1/administration/appointments", &request)?;
    let centre = centre(&state, &request.centre)?;
    let service = centre.service(&request.service)?;
    let mut tx = state.pool.begin().await?;
    let account = principal.account_id;
    if let Some(answer) = idempotency::claim_in(&mut tx, account, &key, &fingerprint).await? {
        return Ok(answer.replayed());
    }
    if !centre.bookable(request.starts_at, state.config.booking_horizon_days) {
        return Err(AdministrationError::SlotUnavailable.into());
    }
    lock_account(&mut tx, account).await?;
    let upcoming = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM bookings
           WHERE account_id = $1 AND status = 'booked' AND starts_at > now()"#,
        account
    )
    .fetch_one(&mut *tx)
    .await?;
    let max = state.config.max_upcoming_appointments;
    if upcoming >= i64::from(max) {
        return Err(AdministrationError::TooManyBookings { max }.into());
    }
    if holds_that_day(&mut tx, account, centre, service, request.starts_at, None).await? {
        return Err(AdministrationError::AlreadyBooked.into());
    }
    take_place(&mut tx, centre, service, request.starts_at).await?;
    let queue_number = next_queue_number(&mut tx, centre, service, request.starts_at).await?;
    let row = BookingRow {
        id: Uuid::now_v7(),
        centre_id: centre.id.clone(),
        service_code: service.code.clone(),
        starts_at: request.starts_at,
        queue_number,
        status: "booked".to_owned(),
    };
    sqlx::query!(
        "INSERT INTO bookings (id, account_id, centre_id, service_code, starts_at, queue_number)
         VALUES ($1, $2, $3, $4, $5, $6)",
        row.id,
        account,
        row.centre_id,
        row.service_code,
        row.starts_at,
        row.queue_number
    )
    .execute(&mut *tx)
    .await?;
    let booking = row.view(&state);
    let body = serde_json::to_value(&booking).map_err(ApiError::internal)?;
    idempotency::answer_in(&mut tx, account, &key, StatusCode::CREATED, &body).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(booking)).into_response())
}

/// One account's bookings change one at a time, so its limits hold under concurrent requests.
async fn lock_account(tx: &mut sqlx::PgConnection, account: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        account.to_string()
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Whether the account holds a booking (other than `except`) of the service on the day of
/// `at`: one visit a day for a service is enough, a second would only hold a place from another.
async fn holds_that_day(
    tx: &mut sqlx::PgConnection,
    account: Uuid,
    centre: &Centre,
    service: &CounterService,
    at: DateTime<Utc>,
    except: Option<Uuid>,
) -> sqlx::Result<bool> {
    let (day_start, day_end) = day_bounds(at.with_timezone(&OFFSET).date_naive());
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM bookings
                          WHERE account_id = $1 AND centre_id = $2 AND service_code = $3
                            AND status = 'booked' AND starts_at >= $4 AND starts_at < $5
                            AND id IS DISTINCT FROM $6)
           AS "exists!""#,
        account,
        centre.id,
        service.code,
        day_start,
        day_end,
        except
    )
    .fetch_one(&mut *tx)
    .await
}

/// Takes one place of a slot, or 409 `booking_slot_full`.
async fn take_place(
    tx: &mut sqlx::PgConnection,
    centre: &Centre,
    service: &CounterService,
    starts_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let taken = sqlx::query_scalar!(
        "INSERT INTO booking_slots (centre_id, service_code, starts_at, capacity, booked)
         VALUES ($1, $2, $3, $4, 1)
         ON CONFLICT (centre_id, service_code, starts_at) DO UPDATE
           SET booked = booking_slots.booked + 1, capacity = EXCLUDED.capacity
           WHERE booking_slots.booked < EXCLUDED.capacity
         RETURNING booked",
        centre.id,
        service.code,
        starts_at,
        service.counters as i32
    )
    .fetch_optional(&mut *tx)
    .await?;
    match taken {
        Some(_) => Ok(()),
        None => Err(AdministrationError::SlotFull.into()),
    }
}

async fn give_back_place(tx: &mut sqlx::PgConnection, row: &BookingRow) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE booking_slots SET booked = booked - 1
         WHERE centre_id = $1 AND service_code = $2 AND starts_at = $3 AND booked > 0",
        row.centre_id,
        row.service_code,
        row.starts_at
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The day's next number of the service's queue (`A012`).
async fn next_queue_number(
    tx: &mut sqlx::PgConnection,
    centre: &Centre,
    service: &CounterService,
    starts_at: DateTime<Utc>,
) -> sqlx::Result<String> {
    let day = starts_at.with_timezone(&OFFSET).date_naive();
    let number = sqlx::query_scalar!(
        "INSERT INTO queue_numbers (centre_id, service_code, day, last) VALUES ($1, $2, $3, 1)
         ON CONFLICT (centre_id, service_code, day) DO UPDATE SET last = queue_numbers.last + 1
         RETURNING last",
        centre.id,
        service.code,
        day
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(format!("{}{number:03}", service.letter))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyBookings {
    /// Those still to come first, soonest first; then the last 30 days' others (cancelled,
    /// served, past), latest first: at most 100 in all.
    appointments: Vec<Booking>,
}

/// My appointments: those to come and those of the last 30 days.
#[utoipa::path(get, path = "/v1/administration/appointments", operation_id = "list_my_counter_appointments", tag = "administration", security(("bearer" = [])),
    responses((status = 200, body = MyBookings)))]
pub async fn mine(
    State(state): State<AdministrationState>,
    principal: Principal,
) -> Result<Json<MyBookings>, ApiError> {
    let rows = sqlx::query_as!(
        BookingRow,
        "SELECT id, centre_id, service_code, starts_at, queue_number, status FROM bookings
         WHERE account_id = $1 AND starts_at > now() - interval '30 days'
         ORDER BY status = 'booked' AND starts_at > now() DESC,
                  CASE WHEN status = 'booked' AND starts_at > now() THEN starts_at END,
                  starts_at DESC
         LIMIT 100",
        principal.account_id
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(MyBookings {
        appointments: rows.iter().map(|r| r.view(&state)).collect(),
    }))
}

/// One of my appointments; another's is 404.
#[utoipa::path(get, path = "/v1/administration/appointments/{id}", operation_id = "get_my_counter_appointment", tag = "administration", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The appointment's id")),
    responses((status = 200, body = Booking),
        (status = 404, description = "`booking_not_found`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AdministrationState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Booking>, ApiError> {
    let id = parse_id(&id)?;
    let row = sqlx::query_as!(
        BookingRow,
        "SELECT id, centre_id, service_code, starts_at, queue_number, status FROM bookings
         WHERE id = $1 AND account_id = $2",
        id,
        principal.account_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AdministrationError::BookingNotFound)?;
    Ok(Json(row.view(&state)))
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| AdministrationError::BookingNotFound.into())
}

/// My booking, locked for a change; another's is 404.
async fn lock_own(
    tx: &mut sqlx::PgConnection,
    principal: &Principal,
    id: Uuid,
) -> Result<BookingRow, ApiError> {
    let row = sqlx::query_as!(
        BookingRow,
        "SELECT id, centre_id, service_code, starts_at, queue_number, status FROM bookings
         WHERE id = $1 AND account_id = $2 FOR UPDATE",
        id,
        principal.account_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AdministrationError::BookingNotFound)?;
    Ok(row)
}

/// Cancels my appointment and frees its place. Cancelling a cancelled one changes nothing.
#[utoipa::path(delete, path = "/v1/administration/appointments/{id}", operation_id = "cancel_counter_appointment", tag = "administration", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The appointment's id")),
    responses((status = 204, description = "Cancelled"),
        (status = 404, description = "`booking_not_found`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`booking_closed`: past or served", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn cancel(
    State(state): State<AdministrationState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    let row = lock_own(&mut tx, &principal, id).await?;
    match row.status.as_str() {
        "cancelled" => return Ok(StatusCode::NO_CONTENT),
        "booked" if row.starts_at > Utc::now() => {}
        _ => return Err(AdministrationError::BookingClosed.into()),
    }
    sqlx::query!(
        "UPDATE bookings SET status = 'cancelled', cancelled_at = now() WHERE id = $1",
        id
    )
    .execute(&mut *tx)
    .await?;
    give_back_place(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reschedule {
    /// Another slot of the same centre and service.
    starts_at: DateTime<Utc>,
}

/// Moves my appointment to another slot of the same service: the new place is taken and the
/// old one freed together, with a new queue number.
#[utoipa::path(post, path = "/v1/administration/appointments/{id}/reschedule", operation_id = "reschedule_counter_appointment", tag = "administration", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The appointment's id")),
    request_body = Reschedule,
    responses((status = 200, body = Booking),
        (status = 404, description = "`booking_not_found`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`booking_slot_full`, `booking_closed`, `already_booked`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`booking_slot_unavailable`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn reschedule(
    State(state): State<AdministrationState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<Reschedule>,
) -> Result<Json<Booking>, ApiError> {
    let id = parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    lock_account(&mut tx, principal.account_id).await?;
    let mut row = lock_own(&mut tx, &principal, id).await?;
    if row.status != "booked" || row.starts_at <= Utc::now() {
        return Err(AdministrationError::BookingClosed.into());
    }
    if row.starts_at == request.starts_at {
        return Ok(Json(row.view(&state)));
    }
    let centre = centre(&state, &row.centre_id)?;
    let service = centre.service(&row.service_code)?;
    if !centre.bookable(request.starts_at, state.config.booking_horizon_days) {
        return Err(AdministrationError::SlotUnavailable.into());
    }
    let another_that_day = holds_that_day(
        &mut tx,
        principal.account_id,
        centre,
        service,
        request.starts_at,
        Some(id),
    )
    .await?;
    if another_that_day {
        return Err(AdministrationError::AlreadyBooked.into());
    }
    // The two slots' rows in the order of their starts, as every reschedule takes them: two
    // residents swapping slots wait for each other instead of deadlocking.
    if row.starts_at < request.starts_at {
        give_back_place(&mut tx, &row).await?;
        take_place(&mut tx, centre, service, request.starts_at).await?;
    } else {
        take_place(&mut tx, centre, service, request.starts_at).await?;
        give_back_place(&mut tx, &row).await?;
    }
    row.queue_number = next_queue_number(&mut tx, centre, service, request.starts_at).await?;
    row.starts_at = request.starts_at;
    sqlx::query!(
        "UPDATE bookings SET starts_at = $2, queue_number = $3, reminded_at = NULL WHERE id = $1",
        id,
        row.starts_at,
        row.queue_number
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(row.view(&state)))
}

/// Staff who serve `centre`: a ward desk's officers, the staff of the department that runs a
/// city centre, and
/// the jurisdiction's and platform's administrators; anyone else finds no such centre.
fn serves<'a>(
    state: &'a AdministrationState,
    principal: &Principal,
    id: &str,
) -> Result<&'a Centre, ApiError> {
    let centre = centre(state, id)?;
    let in_jurisdiction =
        principal.scope.jurisdiction.as_deref() == Some(centre.jurisdiction.as_str());
    let staff = in_jurisdiction
        && match (&centre.ward, &centre.department) {
            (Some(ward), _) => {
                principal.has_role(Role::WardOfficer) && principal.scope.wards.contains(ward)
            }
            (None, Some(department)) => {
                principal.has_role(Role::DepartmentStaff)
                    && principal.scope.departments.contains(department)
            }
            (None, None) => false,
        };
    if staff || principal.administers(&centre.jurisdiction) {
        Ok(centre)
    } else {
        Err(AdministrationError::CentreNotFound.into())
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DayQuery {
    /// The day (Việt Nam time); today when absent.
    date: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayList {
    date: NaiveDate,
    /// By start, then queue number; cancelled ones left out.
    appointments: Vec<Booking>,
}

/// Staff: a centre's appointments of a day.
#[utoipa::path(get, path = "/v1/administration/centres/{centre}/appointments", operation_id = "list_centre_appointments", tag = "administration", security(("bearer" = [])),
    params(("centre" = String, Path, description = "The centre's id"), DayQuery),
    responses((status = 200, body = DayList),
        (status = 404, description = "`centre_not_found` (also for staff of another jurisdiction)", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn day_list(
    State(state): State<AdministrationState>,
    principal: Principal,
    Path(centre_id): Path<String>,
    QueryParams(query): QueryParams<DayQuery>,
) -> Result<Json<DayList>, ApiError> {
    let centre = serves(&state, &principal, &centre_id)?;
    let date = query.date.unwrap_or_else(today);
    let (from, to) = day_bounds(date);
    let rows = sqlx::query_as!(
        BookingRow,
        "SELECT id, centre_id, service_code, starts_at, queue_number, status FROM bookings
         WHERE centre_id = $1 AND starts_at >= $2 AND starts_at < $3 AND status <> 'cancelled'
         ORDER BY starts_at, queue_number
         LIMIT 5000",
        centre.id,
        from,
        to
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(DayList {
        date,
        appointments: rows.iter().map(|r| r.view(&state)).collect(),
    }))
}

fn day_bounds(date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = |d: NaiveDate| {
        OFFSET
            .from_local_datetime(&d.and_time(NaiveTime::MIN))
            .single()
            .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
    };
    (start(date), start(date + Days::new(1)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Arrival {
    /// What the resident's QR code holds.
    code: String,
}

/// Staff: marks the resident whose QR code was scanned as arrived; scanning twice is the same.
#[utoipa::path(post, path = "/v1/administration/centres/{centre}/arrivals", operation_id = "mark_counter_arrival", tag = "administration", security(("bearer" = [])),
    params(("centre" = String, Path, description = "The centre's id")),
    request_body = Arrival,
    responses((status = 200, body = Booking),
        (status = 404, description = "`centre_not_found`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`booking_closed`: cancelled", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_booking_code`: not this centre's today", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn arrive(
    State(state): State<AdministrationState>,
    principal: Principal,
    Path(centre_id): Path<String>,
    JsonBody(arrival): JsonBody<Arrival>,
) -> Result<Json<Booking>, ApiError> {
    let centre = serves(&state, &principal, &centre_id)?;
    let id = arrival
        .code
        .trim()
        .strip_prefix(QR_PREFIX)
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or(AdministrationError::InvalidBookingCode)?;
    let (from, to) = day_bounds(today());
    let mut tx = state.pool.begin().await?;
    let mut row = sqlx::query_as!(
        BookingRow,
        "SELECT id, centre_id, service_code, starts_at, queue_number, status FROM bookings
         WHERE id = $1 AND centre_id = $2 AND starts_at >= $3 AND starts_at < $4 FOR UPDATE",
        id,
        centre.id,
        from,
        to
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AdministrationError::InvalidBookingCode)?;
    match row.status.as_str() {
        "arrived" => {}
        "booked" => {
            sqlx::query!(
                "UPDATE bookings SET status = 'arrived', arrived_at = now() WHERE id = $1",
                id
            )
            .execute(&mut *tx)
            .await?;
            row.status = "arrived".to_owned();
        }
        _ => return Err(AdministrationError::BookingClosed.into()),
    }
    tx.commit().await?;
    Ok(Json(row.view(&state)))
}

/// How long before the start a reminder goes, and how long after booking at the earliest (one
/// just booked needs none).
const REMIND_AHEAD: chrono::Duration = chrono::Duration::hours(24);
const NOT_BEFORE_BOOKED: chrono::Duration = chrono::Duration::hours(1);
/// Reminders sent per round.
const REMINDER_BATCH: i64 = 100;

/// Reminds each booking's holder once, within a day of the start.
pub fn start_reminders(state: AdministrationState, jobs: &Jobs) {
    let every = Duration::from_millis(state.config.reminders_interval_ms.max(100));
    jobs.repeat("administration.booking_reminders", every, None, move || {
        let state = state.clone();
        async move { remind(&state).await }
    });
}

/// Sends the reminders due; `true` while more are waiting.
async fn remind(state: &AdministrationState) -> anyhow::Result<bool> {
    let mut tx = state.pool.begin().await?;
    let now = Utc::now();
    let due = sqlx::query!(
        "UPDATE bookings SET reminded_at = now()
         WHERE id IN (SELECT id FROM bookings
                      WHERE status = 'booked' AND reminded_at IS NULL
                        AND starts_at > $1 AND starts_at <= $2 AND created_at <= $3
                      ORDER BY starts_at LIMIT $4 FOR UPDATE SKIP LOCKED)
         RETURNING id, account_id, centre_id, service_code, starts_at, queue_number",
        now,
        now + REMIND_AHEAD,
        now - NOT_BEFORE_BOOKED,
        REMINDER_BATCH
    )
    .fetch_all(&mut *tx)
    .await?;
    for booking in &due {
        let Some(centre) = state.centres.get(&booking.centre_id) else {
            continue;
        };
        let service = centre
            .services
            .iter()
            .find(|s| s.code == booking.service_code);
        let event = AppointmentReminder {
            account_id: booking.account_id,
            appointment_id: booking.id,
            centre_vi: centre.name_vi.clone(),
            centre_en: centre.name_en.clone(),
            service_vi: service.map_or_else(|| booking.service_code.clone(), |s| s.name_vi.clone()),
            service_en: service.map_or_else(|| booking.service_code.clone(), |s| s.name_en.clone()),
            starts_at: booking.starts_at,
            queue_number: booking.queue_number.clone(),
        };
        platform::events::enqueue(&mut tx, booking.account_id, &event).await?;
    }
    tx.commit().await?;
    Ok(due.len() as i64 == REMINDER_BATCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> BTreeMap<String, Centre> {
        load(None).unwrap()
    }

    #[test]
    fn the_demo_centres_load() {
        let centres = demo();
        assert!(centres.contains_key("hue-public-service-centre"));
        assert!(centres.contains_key("thuan-hoa-ward"));
    }

    #[test]
    fn a_weekday_has_the_morning_and_afternoon_slots_and_a_holiday_none() {
        let centres = demo();
        let centre = &centres["hue-public-service-centre"];
        // Monday 7 December 2026: 07:00-11:30 and 13:30-17:00 by 30 minutes: 9 + 7.
        let monday = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let slots = centre.slots(monday);
        assert_eq!(slots.len(), 16);
        assert_eq!(
            slots[0].with_timezone(&OFFSET).time(),
            NaiveTime::from_hms_opt(7, 0, 0).unwrap()
        );
        assert_eq!(
            slots[9].with_timezone(&OFFSET).time(),
            NaiveTime::from_hms_opt(13, 30, 0).unwrap()
        );
        // Saturday morning only; Sunday closed; 1 January closed.
        assert_eq!(
            centre
                .slots(NaiveDate::from_ymd_opt(2026, 12, 12).unwrap())
                .len(),
            8
        );
        assert!(
            centre
                .slots(NaiveDate::from_ymd_opt(2026, 12, 13).unwrap())
                .is_empty()
        );
        assert!(
            centre
                .slots(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap())
                .is_empty()
        );
    }

    #[test]
    fn a_broken_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("centres-{}.toml", Uuid::new_v4()));
        std::fs::write(&dir, "[[centres]]\nid = \"x\"\n").unwrap();
        assert!(load(Some(&dir)).is_err());
        let _ = std::fs::remove_file(dir);
    }
}
